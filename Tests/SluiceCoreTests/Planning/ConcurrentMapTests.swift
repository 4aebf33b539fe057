import Testing
@testable import SluiceCore

@Suite("Concurrent map")
struct ConcurrentMapTests {
    struct Odd: Error, Equatable { let value: Int }

    @Test(arguments: [0, 1, 511, 512, 10_000])
    func keepsOrder(_ count: Int) {
        let values = Array(0..<count)
        #expect(values.concurrentMap { $0 * 2 } == values.map { $0 * 2 })
    }

    @Test func rethrowsTheFirstErrorInElementOrder() {
        let values = Array(0..<5_000)
        #expect(throws: Odd(value: 1001)) {
            try values.concurrentMap { (value: Int) throws(Odd) -> Int in
                if value > 1000, value % 2 == 1 { throw Odd(value: value) }
                return value
            }
        }
    }
}
