package password_test

import (
	"errors"
	"fmt"

	"github.com/hipaakit/hipaakit/auth/password"
)

func ExamplePolicy_Check() {
	p := password.DefaultPolicy()
	p.AppName = "Acme Clinic"
	who := password.Context{UserName: "jdoe", TenantID: "acme"}
	for _, pw := range []string{"correct horse battery", "short-one", "passwordpassword", "jdoe-loves-hiking!", "aaaaaaaaaaaaaaaa"} {
		var pe *password.Error
		if err := p.Check(pw, who); errors.As(err, &pe) {
			fmt.Println(pe.Reason)
		} else {
			fmt.Println("ok")
		}
	}
	// Output:
	// ok
	// too_short
	// blocklisted
	// context_word
	// repetitive
}
