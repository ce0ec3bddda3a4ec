import NIOCore
@testable import SwarmSession
import Testing

/// The round trip a peer's requests see.
@Suite struct RoundTripEstimateTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test func theQuickestBlockOfTheLastTwoWindowsCounts() {
        var estimate = RoundTripEstimate()
        #expect(estimate.value == nil)
        estimate.sample(sentAt: start, now: start + .milliseconds(300))  // queued behind others
        estimate.sample(sentAt: start + .milliseconds(100), now: start + .milliseconds(185))
        #expect(estimate.value == .milliseconds(85))
        // A new window: the old minimum still counts until the window after.
        estimate.sample(sentAt: start + .seconds(10), now: start + .seconds(10) + .milliseconds(200))
        #expect(estimate.value == .milliseconds(85))
        estimate.sample(sentAt: start + .seconds(21), now: start + .seconds(21) + .milliseconds(200))
        #expect(estimate.value == .milliseconds(85), "the window before still counts")
        estimate.sample(sentAt: start + .seconds(32), now: start + .seconds(32) + .milliseconds(200))
        #expect(estimate.value == .milliseconds(200), "a path that got slower is believed within two windows")
        // A clock that went backwards is no sample.
        estimate.sample(sentAt: start + .seconds(40), now: start + .seconds(39))
        #expect(estimate.value == .milliseconds(200))
    }
}
