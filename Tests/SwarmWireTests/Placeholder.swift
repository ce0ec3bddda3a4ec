import Testing
@Test func placeholderSwarmWireTests() { #expect(Bool(true)) }
