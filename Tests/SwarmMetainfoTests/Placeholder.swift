import Testing
@Test func placeholderSwarmMetainfoTests() { #expect(Bool(true)) }
