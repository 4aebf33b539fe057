import Foundation
import SluiceTesting
import Testing

@Suite("Tests on a thread of their own", .ownThread)
struct OwnThreadTraitTests {
    /// The test whose thread the caller runs on (Thread.current is not for async code).
    static func threadName() -> String? { OwnThreadTrait.currentTest }

    @Test func aBlockingTestRunsOnItsOwnThread() {
        // A synchronous test body, as the end-to-end tests have: it runs on the trait's thread
        #expect(OwnThreadTrait.currentTest == "aBlockingTestRunsOnItsOwnThread()")
    }

    @Test func anAsyncTestAndWhatItAwaitsComeBackToItsThread() async throws {
        #expect(Self.threadName() == "anAsyncTestAndWhatItAwaitsComeBackToItsThread()")
        try await Task.sleep(for: .milliseconds(1))
        #expect(Self.threadName() == "anAsyncTestAndWhatItAwaitsComeBackToItsThread()")
        // Its child tasks run there too
        let child = await withTaskGroup(of: String?.self) { group in
            group.addTask { Self.threadName() }
            return await group.next() ?? nil
        }
        #expect(child == "anAsyncTestAndWhatItAwaitsComeBackToItsThread()")
    }

    @Test(arguments: [1, 2]) func eachCaseHasAThread(_ number: Int) {
        #expect(OwnThreadTrait.currentTest == "eachCaseHasAThread(_:)")
    }
}
