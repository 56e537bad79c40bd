package deid

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// TestEachIdentifierRemoved runs one subtest per Safe Harbor identifier: a
// record holding only that identifier (plus a kept, non-identifying field)
// comes out without it.
func TestEachIdentifierRemoved(t *testing.T) {
	samples := map[Identifier]string{
		Name: "Jane Q. Canary", Geographic: "12 Canary Lane, Springfield", Date: "2024-03-05",
		Telephone: "+1 555 0100", Fax: "+1 555 0199", Email: "jane@canary.example",
		SSN: "999-00-1234", MedicalRecord: "MRN-CANARY-77", HealthPlan: "HP-CANARY-1",
		Account: "ACCT-CANARY-9", License: "DL-CANARY-3", Vehicle: "PLATE-CANARY",
		Device: "SN-CANARY-PACEMAKER", URL: "https://canary.example/jane", IPAddress: "203.0.113.7",
		Biometric: "fingerprint:canary", Photo: "data:image/png;base64,Q0FOQVJZ", OtherUnique: "BADGE-CANARY",
	}
	if len(samples) != 18 {
		t.Fatalf("test covers %d identifiers, want 18", len(samples))
	}
	for _, id := range Identifiers() {
		t.Run(id.String(), func(t *testing.T) {
			v, ok := samples[id]
			if !ok {
				t.Fatalf("no sample for %v", id)
			}
			rec := map[string]string{"value": v, "icd10": "E11.9"}
			out, rep, err := Deidentify(rec, Schema{"value": Remove(id), "icd10": Keep()}, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if _, present := out["value"]; present {
				t.Fatalf("%v survived de-identification", id)
			}
			for k, got := range out {
				if strings.Contains(got, "CANARY") || strings.Contains(got, "canary") || got == v {
					t.Fatalf("field %s still carries the identifier", k)
				}
			}
			if out["icd10"] != "E11.9" {
				t.Fatalf("kept field changed: %q", out["icd10"])
			}
			if rep.Removed[id] != 1 {
				t.Fatalf("report: removed[%v] = %d, want 1", id, rep.Removed[id])
			}
		})
	}
}

func TestDatesToYear(t *testing.T) {
	out, rep, err := Deidentify(map[string]string{
		"admitted": "2024-02-29", "discharged": "2024-03-02T10:00:00Z", "died": "",
	}, Schema{"admitted": DateToYear(), "discharged": DateToYear(), "died": DateToYear()}, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if out["admitted"] != "2024" || out["discharged"] != "2024" || out["died"] != "" {
		t.Fatalf("got %v", out)
	}
	if rep.Generalised[Date] != 2 {
		t.Fatalf("generalised %d dates, want 2", rep.Generalised[Date])
	}
}

func TestBirthDatesOver89Aggregated(t *testing.T) {
	cases := []struct{ dob, want string }{
		{"1980-06-15", "1980"},
		{"1936-11-23", "1936"}, // turns 90 tomorrow: still 89
		{"1936-11-22", "90+"},  // 90 today
		{"1920-01-01", "90+"},
	}
	for _, c := range cases {
		out, _, err := Deidentify(map[string]string{"dob": c.dob}, Schema{"dob": BirthDateToYear()}, Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if out["dob"] != c.want {
			t.Errorf("dob %s → %q, want %q", c.dob, out["dob"], c.want)
		}
	}
}

func TestAges(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "89": "89", "90": "90+", "104": "90+"} {
		out, _, err := Deidentify(map[string]string{"age": in}, Schema{"age": Age()}, Options{})
		if err != nil || out["age"] != want {
			t.Errorf("age %s → %q, %v; want %q", in, out["age"], err, want)
		}
	}
}

func TestZIP3(t *testing.T) {
	for in, want := range map[string]string{
		"02139": "021", "02139-4307": "021", "03601": "000", "89301": "000", "10001": "100",
	} {
		out, _, err := Deidentify(map[string]string{"zip": in}, Schema{"zip": ZIP3()}, Options{})
		if err != nil || out["zip"] != want {
			t.Errorf("zip %s → %q, %v; want %q", in, out["zip"], err, want)
		}
	}
	// A custom list replaces the default.
	out, _, _ := Deidentify(map[string]string{"zip": "02139"}, Schema{"zip": ZIP3()}, Options{RestrictedZIP3: []string{"021"}})
	if out["zip"] != "000" {
		t.Fatalf("custom restricted list ignored: %q", out["zip"])
	}
}

func TestUnclassifiedFieldRefused(t *testing.T) {
	_, _, err := Deidentify(map[string]string{"ssn": "999-00-1234"}, Schema{}, Options{})
	if !errors.Is(err, ErrUnclassified) {
		t.Fatalf("err = %v, want ErrUnclassified", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "ssn" {
		t.Fatalf("err does not name the field: %v", err)
	}
}

func TestInvalidValuesNeverEchoed(t *testing.T) {
	const canary = "1999-99-CANARY"
	for _, c := range []Class{DateToYear(), BirthDateToYear(), ZIP3(), Age()} {
		_, _, err := Deidentify(map[string]string{"f": canary}, Schema{"f": c}, Options{})
		if !errors.Is(err, ErrInvalidValue) {
			t.Fatalf("err = %v, want ErrInvalidValue", err)
		}
		if strings.Contains(err.Error(), "CANARY") || strings.Contains(fmt.Sprintf("%+v %#v", err, err), "CANARY") {
			t.Fatal("error echoes the value")
		}
	}
}

func FuzzDeidentify(f *testing.F) {
	f.Add("2024-02-29", "02139-4307", "90")
	f.Add("", "", "")
	f.Add("2024-13-40T99:99:99Z", "1234-", "-1")
	schema := Schema{"d": BirthDateToYear(), "z": ZIP3(), "a": Age()}
	f.Fuzz(func(t *testing.T, d, z, a string) {
		out, _, err := Deidentify(map[string]string{"d": d, "z": z, "a": a}, schema, Options{Now: now})
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if zz := out["z"]; zz != "" && strings.TrimSpace(z) != "" && len(zz) != 3 {
			t.Fatalf("zip generalised to %q", zz)
		}
	})
}

func ExampleDeidentify() {
	patient := map[string]string{
		"name": "Jane Doe", "ssn": "999-00-1234", "dob": "1931-04-02",
		"zip": "02139", "admitted": "2026-10-03", "diagnosis": "E11.9",
	}
	schema := Schema{
		"name": Remove(Name), "ssn": Remove(SSN), "dob": BirthDateToYear(),
		"zip": ZIP3(), "admitted": DateToYear(), "diagnosis": Keep(),
	}
	out, _, err := Deidentify(patient, schema, Options{Now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output: map[admitted:90+ diagnosis:E11.9 dob:90+ zip:021]
}

// TestEventDatesOver89Aggregated: a non-birth date whose year shows the
// individual was 90 or older then is aggregated to "90+" like the birth
// year; earlier dates keep their year.
func TestEventDatesOver89Aggregated(t *testing.T) {
	schema := Schema{"dob": BirthDateToYear(), "admitted": DateToYear(), "died": DateToYear(), "first_visit": DateToYear()}
	out, rep, err := Deidentify(map[string]string{
		"dob": "1930-05-01", "admitted": "2020-04-30", "died": "2020-05-01", "first_visit": "1990-01-01",
	}, schema, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"dob": "90+", "admitted": "2020", "died": "90+", "first_visit": "1990"}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, out[k], v, out)
		}
	}
	if rep.Generalised[Date] != 4 {
		t.Fatalf("generalised %d dates, want 4", rep.Generalised[Date])
	}
	// A date before the birth date is refused, naming the field only.
	_, _, err = Deidentify(map[string]string{"dob": "1930-05-01", "admitted": "1920-01-01"}, schema, Options{Now: now})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "admitted" || !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("date before birth: %v", err)
	}
}
