import Testing
@Test func placeholderSwarmTrackerTests() { #expect(Bool(true)) }
