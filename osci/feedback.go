package osci

import (
	"fmt"
	"strings"
)

// Outcome classes of a Feedback.
type FeedbackClass int

// Feedback classes.
const (
	FeedbackOK FeedbackClass = iota + 1
	FeedbackRetry
	FeedbackAmbiguous
	FeedbackPermanent
)

// FeedbackError is a 9xxx (or unknown) feedback code returned by the supplier.
type FeedbackError struct {
	Code  string
	Text  string
	Class FeedbackClass
}

func (e *FeedbackError) Error() string {
	return fmt.Sprintf("osci: feedback %s: %s", e.Code, e.Text)
}

// Result of scanning a Feedback.
type FeedbackResult struct {
	OK       bool            // an 0xxx code and no error
	Warnings []FeedbackEntry // 3xxx: the order succeeded
	Err      *FeedbackError  // the first error, if any
}

// ClassifyFeedback scans every row of every language: 0800/0801 (any 0xxx)
// mean success, 3xxx are warnings, 9xxx errors. An error anywhere wins, so a
// 9xxx in one language is never hidden by an OK in another.
func ClassifyFeedback(fb []FeedbackEntry) FeedbackResult {
	var r FeedbackResult
	okSeen := false
	for _, e := range fb {
		code := strings.TrimSpace(e.Code)
		switch {
		case strings.HasPrefix(code, "0"):
			okSeen = true
		case strings.HasPrefix(code, "3"):
			r.Warnings = append(r.Warnings, e)
		case strings.HasPrefix(code, "9"):
			if r.Err == nil {
				r.Err = &FeedbackError{Code: code, Text: e.Text, Class: classify9xxx(code)}
			}
		default:
			if r.Err == nil {
				r.Err = &FeedbackError{Code: code, Text: e.Text, Class: FeedbackPermanent}
			}
		}
	}
	if r.Err == nil && !okSeen {
		r.Err = &FeedbackError{Code: "", Text: "feedback without a success code", Class: FeedbackAmbiguous}
	}
	r.OK = r.Err == nil
	return r
}

// classify9xxx maps OSCI 9xxx codes to DESIGN §4 outcomes: dialog and
// intermediary/recipient failures are retried; 9810 (delivered, then an
// intermediary error) is ambiguous; message, certificate, signature and
// decryption errors are permanent.
func classify9xxx(code string) FeedbackClass {
	switch code {
	case "9400", "9805", "9806", "9807", "9808", "9809", "9811":
		return FeedbackRetry
	case "9810":
		return FeedbackAmbiguous
	}
	return FeedbackPermanent
}
