package xoev

/*
#cgo pkg-config: libxml-2.0
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

static xmlExternalEntityLoader dxhubDefaultLoader = NULL;
static int dxhubRefused = 0;

// dxhubLoader refuses every URL with a scheme other than file: (http, https,
// ftp, …); local paths go to libxml2's default loader. It is installed
// process-wide, so schema imports/includes (xmlSchemaParse) and any DTD or
// entity reference can never reach the network.
static xmlParserInputPtr dxhubLoader(const char *url, const char *id, xmlParserCtxtPtr ctxt) {
	if (url != NULL) {
		const char *colon = strchr(url, ':');
		const char *slash = strchr(url, '/');
		int hasScheme = colon != NULL && (slash == NULL || colon < slash) && (colon - url) > 1;
		if (hasScheme && strncasecmp(url, "file:", 5) != 0) {
			__atomic_add_fetch(&dxhubRefused, 1, __ATOMIC_SEQ_CST);
			return NULL;
		}
	}
	return dxhubDefaultLoader(url, id, ctxt);
}

static void dxhubInstallNoNet(void) {
	if (dxhubDefaultLoader == NULL) {
		dxhubDefaultLoader = xmlGetExternalEntityLoader();
		xmlSetExternalEntityLoader(dxhubLoader);
	}
}

static int dxhubRefusedCount(void) { return __atomic_load_n(&dxhubRefused, __ATOMIC_SEQ_CST); }
*/
import "C"

import "sync"

var noNetOnce sync.Once

// installNoNet replaces libxml2's external entity loader (process-wide) with
// one that refuses network URLs. go-xsd-validate parses without
// XML_PARSE_NONET and compiles schemas with xmlSchemaNewParserCtxt, which
// would follow an http:// schemaLocation; with this loader a schema that
// needs the network fails to compile instead ("failed to load external
// entity"). Local files (relative paths, absolute paths, file: URLs) load as
// before.
func installNoNet() {
	noNetOnce.Do(func() { C.dxhubInstallNoNet() })
}

// refusedNetworkLoads counts the network loads refused so far (for tests and
// diagnostics).
func refusedNetworkLoads() int { return int(C.dxhubRefusedCount()) }
