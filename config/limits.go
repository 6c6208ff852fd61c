package config

// XMLLimits (zero values: the defaults) bound every XML document the hub parses from outside (OSCI
// orders and responses, decrypted contents, inbound back-channel messages).
// DOCTYPE and entity declarations are always refused, whatever the limits.
//
//	limits:
//	  xml:
//	    maxDepth: 100          # element nesting
//	    maxElements: 200000    # elements per document
//	    maxAttrBytes: 1MiB     # one attribute value (base64 certificates fit)
//	    maxTextBytes: 64MiB    # one text node (base64 CipherValue of an OSCI content)
type XMLLimits struct {
	MaxDepth     int  `mapstructure:"maxDepth"`
	MaxElements  int  `mapstructure:"maxElements"`
	MaxAttrBytes Size `mapstructure:"maxAttrBytes"`
	MaxTextBytes Size `mapstructure:"maxTextBytes"`
}

// InboundLimits bound an inbound XÖV back-channel message (a receipt,
// rejection, status message or decision) before it is parsed (zero values:
// the defaults).
//
//	limits:
//	  inbound:
//	    maxBytes: 16MiB
//	    maxDepth: 200
//	    maxElements: 100000
type InboundLimits struct {
	MaxBytes    Size `mapstructure:"maxBytes"`
	MaxDepth    int  `mapstructure:"maxDepth"`
	MaxElements int  `mapstructure:"maxElements"`
}

// DefaultInboundLimits returns the built-in limits of inbound XÖV messages.
func DefaultInboundLimits() InboundLimits {
	return InboundLimits{MaxBytes: 16 * MiB, MaxDepth: 200, MaxElements: 100_000}
}

// DefaultXMLLimits returns the built-in XML limits.
func DefaultXMLLimits() XMLLimits {
	return XMLLimits{MaxDepth: 100, MaxElements: 200_000, MaxAttrBytes: 1 * MiB, MaxTextBytes: 64 * MiB}
}

// DefaultMaxTotalAttachmentBytes is limits.maxTotalAttachmentBytes (0 in a
// file: only limits.maxBodyBytes bounds the attachments together).
const DefaultMaxTotalAttachmentBytes = 100 * MiB

func (c *Config) validateHardenLimits(p *problems) {
	l := c.Limits
	if l.MaxTotalAttachmentBytes < 0 {
		p.add("limits.maxTotalAttachmentBytes", "must not be negative (0 = only limits.maxBodyBytes)")
	}
	x := l.XML
	for _, f := range []struct {
		key string
		v   int64
	}{
		{"limits.xml.maxDepth", int64(x.MaxDepth)}, {"limits.xml.maxElements", int64(x.MaxElements)},
		{"limits.xml.maxAttrBytes", int64(x.MaxAttrBytes)}, {"limits.xml.maxTextBytes", int64(x.MaxTextBytes)},
		{"limits.inbound.maxBytes", int64(l.Inbound.MaxBytes)}, {"limits.inbound.maxDepth", int64(l.Inbound.MaxDepth)},
		{"limits.inbound.maxElements", int64(l.Inbound.MaxElements)}, {"xta.server.maxControlBytes", int64(c.XTA.Server.MaxControlBytes)},
		{"xta.server.maxDepth", int64(c.XTA.Server.MaxDepth)}, {"xta.server.maxElements", int64(c.XTA.Server.MaxElements)},
		{"xta.server.maxAttributes", int64(c.XTA.Server.MaxAttributes)},
	} {
		if f.v < 0 {
			p.add(f.key, "must not be negative (0 = the built-in default)")
		}
	}
}
