package evidence

import (
	"encoding/xml"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/compliance/suite"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"timestamp,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders results as JUnit XML, one test case per control: a failed
// control is a failure with its messages, an excluded or not checked one
// is skipped with the reason, so CI dashboards show each control by name.
func JUnit(name string, at time.Time, rs suite.Results) ([]byte, error) {
	s := junitSuite{Name: name}
	for _, r := range rs {
		c := junitCase{Name: r.Control, ClassName: name}
		text := strings.Join(r.Messages, "\n")
		switch r.Status {
		case suite.Failed:
			c.Failure = &junitMessage{Message: string(r.Status), Text: text}
			s.Failures++
		case suite.Excluded, suite.NotChecked:
			c.Skipped = &junitMessage{Message: string(r.Status), Text: text}
			s.Skipped++
		default:
			c.SystemOut = text
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
	}
	out := junitSuites{Name: name, Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: at.UTC().Format(time.RFC3339), Suites: []junitSuite{s}}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
