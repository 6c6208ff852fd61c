package osciclient_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
)

type ioReadCloser = io.ReadCloser

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
