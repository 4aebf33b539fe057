import Testing
@testable import SluiceCore

@Suite("Stage assignment")
struct StageAssignmentTests {
    static let here = SourceLocation(file: "t.yaml", line: 1, column: 1)

    static func targets(_ specs: [(String, String)]) -> [Target] {
        specs.map { Target(name: $0.0, labels: ["dc": $0.1], location: here) }
    }

    static let eight = targets([
        ("sg1", "sg"), ("sg2", "sg"), ("ams1", "ams"), ("ams2", "ams"), ("ams3", "ams"), ("sg3", "sg"),
        ("nyc1", "nyc"), ("nyc2", "nyc"),
    ])

    func names(_ assignment: StageAssignment, _ targets: [Target]) -> [[String]] {
        assignment.stages.map { $0.map { targets[$0].name } }
    }

    @Test func canaryThenRestInListOrder() {
        let stages = [Stage(name: "canary", size: .count(1), location: Self.here), Stage(name: "rest", location: Self.here)]
        let result = StageAssignment.assign(stages: stages, targets: Self.eight)
        #expect(names(result, Self.eight) == [["sg1"], ["sg2", "ams1", "ams2", "ams3", "sg3", "nyc1", "nyc2"]])
        #expect(result.unassigned.isEmpty)
    }

    @Test func oneDataCentreAtATime() {
        let stages = ["sg", "ams", "nyc"].map { Stage(name: $0, select: ["dc": $0], location: Self.here) }
        let result = StageAssignment.assign(stages: stages, targets: Self.eight)
        #expect(names(result, Self.eight) == [["sg1", "sg2", "sg3"], ["ams1", "ams2", "ams3"], ["nyc1", "nyc2"]])
    }

    @Test(arguments: [(1, 1), (12, 1), (13, 2), (25, 2), (50, 4), (99, 8), (100, 8)])
    func percentRoundsUpAndTakesAtLeastOne(_ percent: Int, _ expected: Int) {
        let stages = [Stage(name: "wave", size: .percent(percent), location: Self.here), Stage(name: "rest", location: Self.here)]
        let result = StageAssignment.assign(stages: stages, targets: Self.eight)
        #expect(result.stages[0].count == expected)
        #expect(result.stages[0].count + result.stages[1].count == 8)
    }

    @Test func countLeavingTargetsOutIsReported() {
        let stages = [Stage(name: "canary", size: .count(2), location: Self.here)]
        let result = StageAssignment.assign(stages: stages, targets: Self.eight)
        #expect(result.unassigned == [2, 3, 4, 5, 6, 7])
    }

    @Test func selectorMatchingNothingIsReported() {
        let stages = [Stage(name: "x", select: ["dc": "lon"], location: Self.here), Stage(name: "rest", location: Self.here)]
        let result = StageAssignment.assign(stages: stages, targets: Self.eight)
        #expect(result.selectsNothing == [0])
        #expect(result.stages[0].isEmpty)
    }

    @Test(arguments: 1...40)
    func everyTargetLandsInExactlyOneStageWhenTheLastTakesTheRest(_ seed: Int) {
        // Given random stage shapes over a random target list
        var generator = SeededGenerator(seed: UInt64(seed))
        let dcs = ["sg", "ams", "nyc"]
        let targets = (0..<Int.random(in: 1...30, using: &generator)).map {
            Target(name: "t\($0)", labels: ["dc": dcs.randomElement(using: &generator) ?? "sg"], location: Self.here)
        }
        var stages: [Stage] = (0..<Int.random(in: 0...4, using: &generator)).map { index in
            let size: Stage.Size = switch Int.random(in: 0...2, using: &generator) {
            case 0: .count(Int.random(in: 1...5, using: &generator))
            case 1: .percent(Int.random(in: 1...100, using: &generator))
            default: .all
            }
            let select = Bool.random(using: &generator) ? ["dc": dcs.randomElement(using: &generator) ?? "sg"] : [:]
            return Stage(name: "s\(index)", select: select, size: size, location: Self.here)
        }
        stages.append(Stage(name: "rest", location: Self.here))
        // When they are assigned, twice
        let first = StageAssignment.assign(stages: stages, targets: targets)
        let second = StageAssignment.assign(stages: stages, targets: targets)
        // Then every target is in exactly one stage, and the result is the same both times
        #expect(first == second)
        #expect(first.stages.flatMap { $0 }.sorted() == Array(targets.indices))
        #expect(first.unassigned.isEmpty)
    }

    @Test(arguments: [(Stage.FailureLimit.count(2), 10, 2), (.percent(10), 10, 1), (.percent(10), 9, 0), (.percent(50), 5, 2)])
    func failureLimits(_ limit: Stage.FailureLimit, _ targets: Int, _ tolerated: Int) {
        #expect(limit.tolerated(outOf: targets) == tolerated)
    }
}

/// A small deterministic random generator (SplitMix64), so table and fuzz tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
