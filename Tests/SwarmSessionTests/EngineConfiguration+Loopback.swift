import SwarmSession

extension EngineConfiguration {
    /// An engine listening on a free loopback port (each test its own).
    static var loopback: EngineConfiguration {
        var configuration = EngineConfiguration()
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        return configuration
    }
}
