import Foundation

/// A shared calendar of freezes that bind every runbook: year-end, a release weekend, an
/// audit. Kept in its own file (`--calendar FILE` or `$SLUICE_CALENDAR`) so that one team can
/// declare a freeze once instead of in each runbook.
public struct FreezeCalendar: Sendable, Equatable {
    /// The calendar file's path as given.
    public var file: String
    /// The freezes, in the order the file lists them; each carries its place in the file.
    public var freezes: [Freeze]

    /// A calendar read from `file`.
    public init(file: String, freezes: [Freeze]) {
        self.file = file
        self.freezes = freezes
    }

    /// `runbook` with this calendar's freezes added to its own.
    ///
    /// The calendar binds the runbook exactly as its own `freeze:` list does, so `plan`, `apply`
    /// and `windows` see one list and cannot disagree; each freeze keeps its location, so a
    /// refusal can still say which file declared it.
    public func binding(_ runbook: Runbook) -> Runbook {
        var bound = runbook
        bound.freezes += freezes
        return bound
    }
}
