package audit

// AttrExposure is the event attribute (Event.Attrs) that says in which
// form PHI left the system. An event carrying ExposureSealed handed out
// sealed values only (phi ciphertext, never opened: phi.Vault.ServeSealed
// writes it); every other access is taken to have exposed plaintext.
// Breach scoping (package breach) reads it for the encryption safe harbor.
const AttrExposure = "exposure"

// Exposure forms, the values of AttrExposure.
const (
	ExposurePlaintext = "plaintext"
	ExposureSealed    = "sealed"
)
