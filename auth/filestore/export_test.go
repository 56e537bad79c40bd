package filestore

// EncodeUser is the user-file encoder, for the golden and fuzz tests.
var EncodeUser = encodeUser
