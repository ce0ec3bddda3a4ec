import SwarmDHT
import SwarmMetainfo
import Testing

@Suite("DHT write tokens")
struct TokenSecretTests {
    static let ip = IPAddress(text: "192.0.2.1")!

    @Test("a token is accepted for 5 to 10 minutes, by the clock")
    func lifetime() {
        var clock = ManualClock()
        var generator = SplitMix64(seed: 1)
        let secret = TokenSecret(origin: clock.now, using: &generator)
        clock.advance(by: .seconds(100))
        let token = secret.token(for: Self.ip, now: clock.now)
        #expect(token.count == TokenSecret.tokenLength)
        #expect(secret.accepts(token, for: Self.ip, now: clock.now))
        clock.advance(by: .seconds(199))  // 299 s: same secret
        #expect(secret.token(for: Self.ip, now: clock.now) == token)
        clock.advance(by: .seconds(1))  // 300 s: rotated, the previous one still accepted
        #expect(secret.token(for: Self.ip, now: clock.now) != token)
        #expect(secret.accepts(token, for: Self.ip, now: clock.now))
        clock.advance(by: .seconds(299))
        #expect(secret.accepts(token, for: Self.ip, now: clock.now))
        clock.advance(by: .seconds(1))  // 600 s: two rotations later
        #expect(!secret.accepts(token, for: Self.ip, now: clock.now))
    }

    @Test("a token is bound to the address and to the secret")
    func binding() {
        let now = ContinuousClock.now
        var generator = SplitMix64(seed: 2)
        let secret = TokenSecret(origin: now, using: &generator)
        let other = TokenSecret(origin: now, using: &generator)
        let token = secret.token(for: Self.ip, now: now)
        #expect(!secret.accepts(token, for: IPAddress(text: "192.0.2.2")!, now: now))
        #expect(!other.accepts(token, for: Self.ip, now: now))
        #expect(!secret.accepts(Array(token.dropLast()), for: Self.ip, now: now))
        #expect(!secret.accepts(token + [0], for: Self.ip, now: now))
        #expect(!secret.accepts([], for: Self.ip, now: now))
        var flipped = token
        flipped[3] ^= 1
        #expect(!secret.accepts(flipped, for: Self.ip, now: now))
        let v6 = IPAddress(text: "2001:db8::1")!
        #expect(secret.accepts(secret.token(for: v6, now: now), for: v6, now: now))
    }

    @Test("a time before the origin counts as the first epoch")
    func beforeOrigin() {
        let now = ContinuousClock.now
        var generator = SplitMix64(seed: 3)
        let secret = TokenSecret(origin: now, using: &generator)
        let early = now.advanced(by: .seconds(-1000))
        #expect(secret.token(for: Self.ip, now: early) == secret.token(for: Self.ip, now: now))
        #expect(secret.accepts(secret.token(for: Self.ip, now: early), for: Self.ip, now: now))
    }
}
