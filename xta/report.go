package xta

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MessageStatus/Status values of a TransportReport (TRANSPORT.md §6).
const (
	StatusOpen   = 0 // processing not finished
	StatusGreen  = 1 // done, no errors or warnings
	StatusYellow = 2 // done with warnings
	StatusRed    = 3 // critical errors
)

// Code lists of report records and additional reports.
const (
	RecordTypeListURI     = "urn:de:xta:codeliste:record.type"
	RecordTypeListVersion = "1.0"
	ReportTypeListURI     = "urn:de:xta:codeliste:report.type"
	ReportTypeListVersion = "1.0"
)

// Record is one entry of the ErrorList, WarnList or InfoList (xta:RecordType).
type Record struct {
	Time   time.Time
	Code   string // a code of urn:de:xta:codeliste:record.type (or ListURI)
	Reason string
	// ListURI and ListVersion default to the record.type code list.
	ListURI, ListVersion string
}

// AdditionalReport is an attached receipt (AdditionalReports/Report): Key is
// the report type code, Data the raw receipt (e.g. an XÖV Eingangsbestätigung
// or an OSCI Laufzettel).
type AdditionalReport struct {
	Key  string
	Data []byte
}

// TransportReport is xta:TransportReport: the message's metadata with the
// timestamps the server filled in, the status and its records.
type TransportReport struct {
	Meta           MessageMeta
	ReportTime     time.Time
	ServerIdentity string
	Errors         []Record
	Warnings       []Record
	Infos          []Record
	// Open marks a report whose processing is not finished (status 0).
	Open       bool
	Additional []AdditionalReport
}

// Status is the MessageStatus/Status: 0 while open, otherwise the maximum
// over the records (error 3, warning 2, else 1).
func (r *TransportReport) Status() int {
	switch {
	case r.Open:
		return StatusOpen
	case len(r.Errors) > 0:
		return StatusRed
	case len(r.Warnings) > 0:
		return StatusYellow
	}
	return StatusGreen
}

// Final reports whether the report will not change any more (status 1–3).
func (r *TransportReport) Final() bool { return r.Status() != StatusOpen }

// WriteTransportReport writes r as xta:TransportReport.
func (x *Writer) WriteTransportReport(r *TransportReport) {
	x.Start("xta:TransportReport")
	x.WriteMessageMetaData(r.Meta)
	x.Elem("xta:ReportTime", xsdTime(r.ReportTime))
	x.Elem("xta:XTAServerIdentity", r.ServerIdentity)
	x.Start("xta:MessageStatus")
	x.Elem("xta:Status", strconv.Itoa(r.Status()))
	writeRecords := func(list, item string, recs []Record) {
		if len(recs) == 0 {
			return
		}
		x.Start(list)
		for _, rec := range recs {
			x.Start(item)
			x.Elem("xta:Timestamp", xsdTime(rec.Time))
			x.Start("xta:Code", "listURI", orDefault(rec.ListURI, RecordTypeListURI), "listVersionID", orDefault(rec.ListVersion, RecordTypeListVersion))
			x.Elem("code", rec.Code)
			x.End("xta:Code")
			x.Elem("xta:Reason", rec.Reason)
			x.End(item)
		}
		x.End(list)
	}
	writeRecords("xta:ErrorList", "xta:Error", r.Errors)
	writeRecords("xta:WarnList", "xta:Warning", r.Warnings)
	writeRecords("xta:InfoList", "xta:Info", r.Infos)
	x.End("xta:MessageStatus")
	if len(r.Additional) > 0 {
		x.Start("xta:AdditionalReports")
		for _, a := range r.Additional {
			x.Start("xta:Report")
			x.Start("xta:Key", "listURI", ReportTypeListURI, "listVersionID", ReportTypeListVersion)
			x.Elem("code", a.Key)
			x.End("xta:Key")
			x.Elem("xta:Data", base64.StdEncoding.EncodeToString(a.Data))
			x.End("xta:Report")
		}
		x.End("xta:AdditionalReports")
	}
	x.End("xta:TransportReport")
}

// ParseTransportReport decodes an xta:TransportReport element.
func ParseTransportReport(el *Element) (*TransportReport, error) {
	if !el.Is(NSXTA, "TransportReport") {
		return nil, fmt.Errorf("expected xta:TransportReport")
	}
	r := &TransportReport{}
	var err error
	if r.Meta, err = ParseMessageMetaData(el.Child(NSOSCIMeta, "MessageMetaData")); err != nil {
		return nil, fmt.Errorf("TransportReport: %w", err)
	}
	if r.ReportTime, err = parseTime(el.Child(NSXTA, "ReportTime"), "ReportTime"); err != nil {
		return nil, err
	}
	r.ServerIdentity = el.Child(NSXTA, "XTAServerIdentity").TrimText()
	ms := el.Child(NSXTA, "MessageStatus")
	st, err := strconv.Atoi(ms.Child(NSXTA, "Status").TrimText())
	if err != nil || st < 0 || st > 3 {
		return nil, fmt.Errorf("TransportReport: MessageStatus/Status %q is not 0–3", ms.Child(NSXTA, "Status").TrimText())
	}
	records := func(list, item string) ([]Record, error) {
		var out []Record
		for _, e := range ms.Child(NSXTA, list).ChildrenNamed(NSXTA, item) {
			t, err := parseTime(e.Child(NSXTA, "Timestamp"), item+"/Timestamp")
			if err != nil {
				return nil, err
			}
			c := e.Child(NSXTA, "Code")
			uri, _ := c.AttrValue("", "listURI")
			ver, _ := c.AttrValue("", "listVersionID")
			out = append(out, Record{Time: t, Code: c.Child("", "code").TrimText(), Reason: e.Child(NSXTA, "Reason").Text,
				ListURI: uri, ListVersion: ver})
		}
		return out, nil
	}
	if r.Errors, err = records("ErrorList", "Error"); err != nil {
		return nil, err
	}
	if r.Warnings, err = records("WarnList", "Warning"); err != nil {
		return nil, err
	}
	if r.Infos, err = records("InfoList", "Info"); err != nil {
		return nil, err
	}
	r.Open = st == StatusOpen
	// The status is authoritative: a server may report red without records.
	switch {
	case st == StatusRed && len(r.Errors) == 0:
		r.Errors = []Record{{Time: r.ReportTime, Code: "status", Reason: "status 3 without error records"}}
	case st == StatusYellow && len(r.Warnings) == 0:
		r.Warnings = []Record{{Time: r.ReportTime, Code: "status", Reason: "status 2 without warning records"}}
	}
	for _, rep := range el.Child(NSXTA, "AdditionalReports").ChildrenNamed(NSXTA, "Report") {
		data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(rep.Child(NSXTA, "Data").Text), ""))
		if err != nil {
			return nil, fmt.Errorf("TransportReport: AdditionalReports/Report/Data: %w", err)
		}
		r.Additional = append(r.Additional, AdditionalReport{Key: rep.Child(NSXTA, "Key").Child("", "code").TrimText(), Data: data})
	}
	return r, nil
}
