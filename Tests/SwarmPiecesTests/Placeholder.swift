import Testing
@Test func placeholderSwarmPiecesTests() { #expect(Bool(true)) }
