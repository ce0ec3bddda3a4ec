import Testing
@testable import SwarmHTTP

@Suite struct ByteRangeRequestTests {
    @Test func singleRanges() {
        #expect(ByteRangeRequest.decide(header: "bytes=0-1", length: 10) == .partial(0..<2))
        #expect(ByteRangeRequest.decide(header: "bytes=0-0", length: 10) == .partial(0..<1))
        #expect(ByteRangeRequest.decide(header: "bytes=3-", length: 10) == .partial(3..<10))
        #expect(ByteRangeRequest.decide(header: "bytes=9-9", length: 10) == .partial(9..<10))
        #expect(ByteRangeRequest.decide(header: "bytes=5-100", length: 10) == .partial(5..<10))
        #expect(ByteRangeRequest.decide(header: "BYTES = 2 - 4", length: 10) == .partial(2..<5))
    }

    @Test func suffixRanges() {
        #expect(ByteRangeRequest.decide(header: "bytes=-3", length: 10) == .partial(7..<10))
        #expect(ByteRangeRequest.decide(header: "bytes=-30", length: 10) == .partial(0..<10))
        #expect(ByteRangeRequest.decide(header: "bytes=-0", length: 10) == .unsatisfiable)
        #expect(ByteRangeRequest.decide(header: "bytes=-5", length: 0) == .unsatisfiable)
    }

    @Test func unsatisfiable() {
        #expect(ByteRangeRequest.decide(header: "bytes=10-", length: 10) == .unsatisfiable)
        #expect(ByteRangeRequest.decide(header: "bytes=10-20", length: 10) == .unsatisfiable)
        #expect(ByteRangeRequest.decide(header: "bytes=0-", length: 0) == .unsatisfiable)
    }

    @Test func ignoredHeadersSendTheWholeFile() {
        for header in ["", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-2", "items=0-1", "bytes=0-1,4-5",
                       "bytes=0-1 junk", "bytes=99999999999999999999-", "bytes=--1", "bytes=1--2"] {
            #expect(ByteRangeRequest.decide(header: header, length: 10) == .full, "\(header)")
        }
        #expect(ByteRangeRequest.decide(header: nil, length: 10) == .full)
        let long = "bytes=0-1" + String(repeating: " ", count: 300)
        #expect(ByteRangeRequest.decide(header: long, length: 10) == .full)
    }

    @Test func hugeNumbersDoNotTrap() {
        #expect(ByteRangeRequest.decide(header: "bytes=0-9223372036854775807", length: 10) == .partial(0..<10))
        #expect(ByteRangeRequest.decide(header: "bytes=-9223372036854775807", length: 10) == .partial(0..<10))
        #expect(ByteRangeRequest.decide(header: "bytes=9223372036854775807-", length: 10) == .unsatisfiable)
        #expect(ByteRangeRequest.decide(header: "bytes=9223372036854775806-9223372036854775807", length: Int64.max)
            == .partial(9223372036854775806..<Int64.max))
    }
}
