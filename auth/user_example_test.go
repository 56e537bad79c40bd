package auth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
)

// newExampleService builds a Service with a key sealer for TOTP secrets.
// A service would use auth/filestore or auth/pgauth, a real audit trail
// and auth.PHISealer.
func newExampleService() *auth.Service {
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := auth.NewKeySealer(key)
	if err != nil {
		log.Fatal(err)
	}
	return exampleService(memstore.NewUserStore(), func(c *auth.Config) { c.Sealer = sealer })
}

func ExampleService_Login() {
	ctx := context.Background()
	a := newExampleService()
	admin := audit.Actor{UserID: "provisioning-job"}
	_, err := a.CreateUser(ctx, auth.NewUser{TenantID: "clinic-1", Name: "Dr.Grey@Example.org",
		Roles: []string{"physician"}, Password: "lantern-orchard-basil-7"}, admin, audit.Origin{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := a.Login(ctx, auth.LoginRequest{TenantID: "clinic-1", Name: "dr.grey@example.org",
		Password: "lantern-orchard-basil-7", ClientKey: "192.0.2.10"})
	fmt.Println(res.Authenticated, res.User.Name, err)

	_, err = a.Login(ctx, auth.LoginRequest{TenantID: "clinic-1", Name: "nobody", Password: "guess-guess-guess"})
	fmt.Println(errors.Is(err, auth.ErrInvalidCredentials))
	// Output:
	// true dr.grey@example.org <nil>
	// true
}

func ExamplePasswordPolicy_Check() {
	p := auth.DefaultPasswordPolicy()
	p.AppName = "Acme Clinic"
	who := auth.PasswordContext{UserName: "jdoe", TenantID: "acme"}
	for _, pw := range []string{"correct horse battery", "short-one", "passwordpassword", "jdoe-loves-hiking!", "aaaaaaaaaaaaaaaa"} {
		var pe *auth.PasswordError
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

func ExampleService_EnrollTOTP() {
	ctx := context.Background()
	a := newExampleService()
	u, err := a.CreateUser(ctx, auth.NewUser{TenantID: "clinic-1", Name: "nurse.joy", Password: "meadow-lichen-copper-3"},
		audit.Actor{}, audit.Origin{})
	if err != nil {
		log.Fatal(err)
	}
	e, err := a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(e.URI(), "otpauth://totp/"), len(e.QRCodePNG()) > 0, e)

	// The user scans the QR code and types the app's first code.
	code, _ := totp.GenerateCode(e.Secret(), time.Now())
	recovery, err := a.ConfirmTOTP(ctx, u.ID, code, "", audit.Origin{})
	fmt.Println(len(recovery), err)

	res, _ := a.Login(ctx, auth.LoginRequest{TenantID: "clinic-1", Name: "nurse.joy", Password: "meadow-lichen-copper-3"})
	fmt.Println(res.Authenticated, res.SecondFactorRequired)
	res, err = a.VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: res.Challenge, RecoveryCode: recovery[0]})
	fmt.Println(res.Authenticated, res.MFA, err)
	// Output:
	// true true auth.Enrollment{[redacted]}
	// 10 <nil>
	// false true
	// true true <nil>
}
