import Foundation
import Synchronization

extension Array where Element: Sendable {
    /// `transform` applied to every element, in order, spread over the machine's cores when
    /// there are enough elements to be worth it (planning and reporting a large runbook).
    ///
    /// `transform` must be pure with respect to the other elements: the pieces run at once.
    /// Rethrows the first error, in element order.
    package func concurrentMap<Mapped: Sendable, Failure: Error>(
        minimumCount: Int = 512, _ transform: @Sendable (Element) throws(Failure) -> Mapped
    ) throws(Failure) -> [Mapped] {
        let chunkCount = count < minimumCount ? 1 : Swift.min(ProcessInfo.processInfo.activeProcessorCount * 2, 16)
        guard chunkCount > 1 else { return try map(transform) }
        let chunkSize = (count + chunkCount - 1) / chunkCount
        let results = Mutex<[Result<[Mapped], Failure>?]>(Array<Result<[Mapped], Failure>?>(repeating: nil, count: chunkCount))
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = (chunk * chunkSize)..<Swift.min(count, (chunk + 1) * chunkSize)
            var mapped: [Mapped] = []
            mapped.reserveCapacity(range.count)
            let result: Result<[Mapped], Failure>
            do throws(Failure) {
                for element in self[range] { mapped.append(try transform(element)) }
                result = .success(mapped)
            } catch {
                result = .failure(error)
            }
            results.withLock { $0[chunk] = result }
        }
        var all: [Mapped] = []
        all.reserveCapacity(count)
        for chunk in results.withLock({ $0 }) {
            if let chunk { all += try chunk.get() }
        }
        return all
    }
}
