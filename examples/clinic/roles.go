package main

import (
	"slices"

	"github.com/hipaakit/hipaakit/auth/policy"
)

// Permissions of the clinic, "resource:action".
const (
	permPatientCreate  policy.Permission = "patient:create"
	permPatientSearch  policy.Permission = "patient:search"
	permClinicalRead   policy.Permission = "clinical:read"     // the full record
	permClinicalWrite  policy.Permission = "clinical:write"    // any field, notes
	permDemoRead       policy.Permission = "demographics:read" // demographics only
	permDemoWrite      policy.Permission = "demographics:write"
	permVitalsWrite    policy.Permission = "vitals:write"
	permLabWrite       policy.Permission = "lab:write"
	permAuditRead      policy.Permission = "audit:read"
	permHold           policy.Permission = "hold:manage"
	permShred          policy.Permission = "patient:shred"
	permBackup         policy.Permission = "backup:manage"
	permExportDeid     policy.Permission = "export:deidentified"
	permSessionKeep    policy.Permission = "session:keepalive"
	permSelfMFA        policy.Permission = "mfa:self"
	permEmergencyStart policy.Permission = "emergency:request"
	permUI             policy.Permission = "ui:use"
	permUserManage     policy.Permission = "user:manage"      // users, roles, status, unlock, resets
	permEmergencyRev   policy.Permission = "emergency:review" // the break-glass report
	// permHistoryRead lists a record's change history: who, when, how,
	// what, outcome; no values.
	permHistoryRead policy.Permission = "history:read"
	// permReviewValues opens the prior and new values of those changes
	// (an audited reveal with purpose audit_review).
	permReviewValues policy.Permission = "audit:review_values"
)

// Roles of the clinic, from the minimum-necessary rules of real clinics.
const (
	rolePhysician = "physician"
	roleNurse     = "nurse"
	roleLab       = "lab_assistant"
	roleFrontDesk = "front_desk"
	roleAuditor   = "auditor"
	roleAdmin     = "admin"
	roleEmergency = "emergency_physician" // break-glass only
	// rolePrivacyOfficer (breach.go) runs breach response.
)

// demoRoles are the roles the demo tenant gets one user each of.
var demoRoles = []string{rolePhysician, roleNurse, roleLab, roleFrontDesk, roleAuditor, roleAdmin, rolePrivacyOfficer}

// secondAdmin is the name of the demo tenant's second administrator: grants
// of PHI-reading roles need one administrator to request and another to
// approve them.
const secondAdmin = "admin2"

// adminRoles are held only by administrative identities, and those hold
// nothing else (auth.Config.AdminRoles).
var adminRoles = []string{roleAdmin}

// phiPermissions are the permissions that read PHI.
var phiPermissions = []policy.Permission{permPatientSearch, permClinicalRead, permDemoRead, permExportDeid, permBreach, permReviewValues}

// phiRoles returns the assignable roles holding a permission that reads PHI
// (auth.Config.PHIRoles).
func phiRoles(rbac *policy.RBAC) []string {
	var out []string
	for _, name := range rbac.Roles() {
		r, _ := rbac.Role(name)
		if r.Emergency {
			continue
		}
		for _, p := range r.Permissions {
			if slices.Contains(phiPermissions, p) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

func clinicRBAC() (*policy.RBAC, error) {
	all := []policy.Permission{permPatientCreate, permPatientSearch, permClinicalRead, permClinicalWrite, permDemoRead,
		permDemoWrite, permVitalsWrite, permLabWrite, permAuditRead, permHold, permShred, permBackup, permExportDeid,
		permSessionKeep, permSelfMFA, permEmergencyStart, permUI, permUserManage, permEmergencyRev, permDisclose, permBreach,
		permHistoryRead, permReviewValues}
	every := []policy.Permission{permSessionKeep, permSelfMFA, permUI}
	with := func(ps ...policy.Permission) []policy.Permission {
		return append(append([]policy.Permission(nil), every...), ps...)
	}
	physician := with(permPatientCreate, permPatientSearch, permClinicalRead, permClinicalWrite, permDemoRead,
		permDemoWrite, permVitalsWrite, permLabWrite, permExportDeid, permHistoryRead, permReviewValues)
	return policy.NewRBAC(all, []policy.Role{
		{Name: rolePhysician, Permissions: physician},
		{Name: roleNurse, Permissions: with(permPatientSearch, permClinicalRead, permDemoRead, permVitalsWrite, permEmergencyStart,
			permHistoryRead)},
		{Name: roleLab, Permissions: with(permPatientSearch, permLabWrite)},
		{Name: roleFrontDesk, Permissions: with(permPatientCreate, permPatientSearch, permDemoRead, permDemoWrite, permEmergencyStart, permDisclose)},
		// The auditor reads the trail and records' histories and may open
		// the prior and new values of changes (audited, audit_review).
		{Name: roleAuditor, Permissions: with(permAuditRead, permEmergencyRev, permHistoryRead, permReviewValues)},
		{Name: roleAdmin, Permissions: with(permHold, permShred, permBackup, permUserManage)},
		// The privacy officer runs breach response: incidents, scoping from
		// the audit trail, the assessment, the notices and their mailing
		// list (the only reveal of contact details it needs).
		{Name: rolePrivacyOfficer, Permissions: with(permBreach)},
		// Break-glass grants what emergency care needs: find the patient,
		// read the record, write notes, vitals and labs. Not creation of
		// patients, demographic changes or export.
		{Name: roleEmergency, Permissions: with(permPatientSearch, permClinicalRead, permClinicalWrite, permDemoRead,
			permVitalsWrite, permLabWrite), Emergency: true, EligibleRoles: []string{roleNurse, roleFrontDesk}},
	})
}

// Fields of a patient record. Demographic fields are visible with
// demographics:read; clinical ones need clinical:read.
var (
	demographicFields = []string{"mrn", "name", "dob", "zip", "phone", "email", "address"}
	fieldLabels       = map[string]string{"mrn": "MRN", "name": "Name", "dob": "Date of birth", "zip": "ZIP code",
		"phone": "Phone", "email": "E-mail", "address": "Address"}
)

func isDemographic(f string) bool {
	for _, d := range demographicFields {
		if d == f {
			return true
		}
	}
	return false
}
