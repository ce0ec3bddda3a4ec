import Testing
@Test func placeholderSwarmBencodeTests() { #expect(Bool(true)) }
