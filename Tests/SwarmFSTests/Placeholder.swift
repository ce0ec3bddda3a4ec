import Testing
@Test func placeholderSwarmFSTests() { #expect(Bool(true)) }
