package policy

const (
	maxTenantBytes = 128
	maxRoleBytes   = 128
)

// ValidTenantID reports whether t is a usable tenant ID: 1 to 128 bytes of
// printable ASCII without spaces.
func ValidTenantID(t string) bool { return ValidName(t, maxTenantBytes) }

// ValidRole reports whether r is a usable role name: 1 to 128 bytes of
// printable ASCII without spaces.
func ValidRole(r string) bool { return ValidName(r, maxRoleBytes) }

// ValidName reports whether s is 1 to maxLen bytes of printable ASCII
// without spaces: the rule of tenant IDs, role names and password policy
// names.
func ValidName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
