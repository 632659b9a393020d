package catalog

// Member is how the id and expiry indexes hold an id (see member.go), for
// the tests that read them.
var Member = member
