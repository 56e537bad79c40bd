// Package deid de-identifies records by the HIPAA Safe Harbor method
// (45 CFR 164.514(b)(2)): each of the eighteen identifiers is removed or, where
// the rule allows, generalised — dates to their year, ZIP codes to their first
// three digits (or "000" for the sparsely populated prefixes), ages over 89 to
// the single category "90+".
//
// # What it guarantees
//
// Every field of a record must be classified in a Schema. Deidentify drops or
// generalises each field by its class and returns only the result; a field the
// schema does not classify is an error (ErrUnclassified), never passed through,
// so a column added to a table later cannot leak by default. Errors name fields,
// never values.
//
// # What it leaves to the caller
//
// Safe Harbor also requires that the covered entity has no actual knowledge that
// the remaining information could identify the individual. deid cannot judge
// that: classify free text (notes, comments) as an identifier to drop unless it
// has been reviewed, and keep only fields that are truly not identifying (for
// example a diagnosis code or a lab value). A re-identification code permitted
// by 164.514(c) must not be derived from the identifiers; deid does not create
// one.
package deid
