import Testing
@testable import SwarmCLI
import SwarmSession

@Suite struct EncryptionOptionsTests {
    @Test func defaultsToPreferAndPassesOthersToTheDaemon() throws {
        let preferred = try EncryptionOptions.parse([])
        #expect(preferred.encryption == .prefer)
        #expect(preferred.arguments.isEmpty)
        for policy in [PeerEncryptionPolicy.require, .disable] {
            let options = try EncryptionOptions.parse(["--encryption", policy.rawValue])
            var engine = EngineConfiguration()
            options.apply(to: &engine)
            #expect(engine.encryption == policy)
            #expect(try EncryptionOptions.parse(options.arguments).encryption == policy, "the daemon parses what it is given")
        }
    }

    @Test func refusesAnUnknownPolicy() {
        #expect(throws: (any Error).self) { try EncryptionOptions.parse(["--encryption", "maybe"]) }
    }
}
