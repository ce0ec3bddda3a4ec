import Testing
@Test func placeholderSwarmSessionTests() { #expect(Bool(true)) }
