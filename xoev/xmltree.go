package xoev

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits applied to XML received from outside.
const (
	// MaxInboundSize is the largest inbound message ParseInbound accepts. A 1100
	// carries the rejected message base64-encoded; attachments never travel
	// inside Kernmodul XML, so 16 MiB is generous.
	MaxInboundSize = 16 << 20
	// MaxDepth is the deepest element nesting accepted.
	MaxDepth = 200
	// MaxElements bounds the number of elements of one inbound message, so
	// that a flood of tiny elements cannot turn 16 MiB of input into a tree
	// many times that size. Real back-channel messages have a few hundred.
	MaxElements = 100_000
)

// InboundLimits override MaxInboundSize, MaxDepth and MaxElements for
// ParseInboundWithin (limits.inbound of the configuration); zero fields keep
// the defaults.
type InboundLimits struct {
	MaxBytes    int64
	MaxDepth    int
	MaxElements int
}

// orDefaults fills zero fields with the package's defaults.
func (l InboundLimits) orDefaults() InboundLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = MaxInboundSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = MaxElements
	}
	return l
}

// ErrHostileXML marks inbound XML refused for safety reasons (DTD/entities,
// excessive depth or size).
var ErrHostileXML = errors.New("refused XML")

const xmlNS = "http://www.w3.org/XML/1998/namespace"

// node is a minimal namespace-resolved element tree.
type node struct {
	Space, Local string
	Attrs        []xml.Attr
	Children     []*node
	text         strings.Builder
	Line         int
}

func (n *node) Text() string { return strings.TrimSpace(n.text.String()) }

func (n *node) Attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == n.Space) {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child with the local name (any namespace).
func (n *node) Child(local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Local == local {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns all children with the local name.
func (n *node) ChildrenNamed(local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.Children {
		if c.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// Path follows child local names; nil if any step is missing.
func (n *node) Path(locals ...string) *node {
	for _, l := range locals {
		n = n.Child(l)
		if n == nil {
			return nil
		}
	}
	return n
}

// PathText is the trimmed text at Path, "" when missing.
func (n *node) PathText(locals ...string) string {
	if c := n.Path(locals...); c != nil {
		return c.Text()
	}
	return ""
}

// parseTree parses data into a tree, refusing DTDs, depth > MaxDepth, more than
// one root element, and anything not well-formed.
func parseTree(data []byte, lim InboundLimits) (*node, error) {
	lim = lim.orDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes exceed the limit of %d", ErrHostileXML, len(data), lim.MaxBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var (
		root  *node
		stack []*node
		// inScope counts the declarations of each namespace URI currently in
		// scope and added[i] lists the URIs declared on the open element at
		// depth i, so that an undeclared prefix (which encoding/xml keeps as
		// a bare prefix) is refused. Memory stays linear in the input: no
		// per-element copy of the scope.
		inScope = map[string]int{xmlNS: 1}
		added   [][]string
		// elements counts the start tags read so far.
		elements int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%w: DOCTYPE/DTD declarations are not allowed", ErrHostileXML)
		case xml.StartElement:
			if len(stack) >= lim.MaxDepth {
				return nil, fmt.Errorf("%w: element nesting deeper than %d", ErrHostileXML, lim.MaxDepth)
			}
			if elements++; elements > lim.MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrHostileXML, lim.MaxElements)
			}
			var decl []string
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					inScope[a.Value]++
					decl = append(decl, a.Value)
				}
			}
			added = append(added, decl)
			if t.Name.Space != "" && inScope[t.Name.Space] == 0 {
				return nil, fmt.Errorf("not namespace-well-formed XML: undeclared prefix %q on <%s>", t.Name.Space, t.Name.Local)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "" && a.Name.Space != "xmlns" && inScope[a.Name.Space] == 0 {
					return nil, fmt.Errorf("not namespace-well-formed XML: undeclared prefix %q on attribute %s", a.Name.Space, a.Name.Local)
				}
			}
			line, _ := dec.InputPos()
			n := &node{Space: t.Name.Space, Local: t.Name.Local, Attrs: t.Attr, Line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("not well-formed XML: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			for _, uri := range added[len(added)-1] {
				if inScope[uri]--; inScope[uri] == 0 {
					delete(inScope, uri)
				}
			}
			added = added[:len(added)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, errors.New("not well-formed XML: text outside the root element")
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		}
	}
	if root == nil {
		return nil, errors.New("not well-formed XML: no root element")
	}
	return root, nil
}

// checkNoDTD refuses documents with a DOCTYPE (used for trusted-but-checked
// files such as code lists).
func checkNoDTD(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: DOCTYPE/DTD declarations are not allowed", ErrHostileXML)
		case xml.StartElement:
			return nil // the prolog is over
		}
	}
}

// rootName returns the namespace and local name of the document element.
func rootName(data []byte) (space, local string, err error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", "", fmt.Errorf("no root element: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return "", "", fmt.Errorf("%w: DOCTYPE/DTD declarations are not allowed", ErrHostileXML)
		case xml.StartElement:
			return t.Name.Space, t.Name.Local, nil
		}
	}
}
