import Testing
@Test func placeholderSwarmStorageTests() { #expect(Bool(true)) }
