/// Splits template text into literals and variables, reporting malformed placeholders.
enum TemplateParser {
    /// A problem in template syntax, at an offset (in Unicode scalars) from the start of the text.
    struct Problem: Equatable {
        var offset: Int
        var message: String
    }

    /// Parses `text`; `locate` turns a Unicode-scalar offset into a file position.
    static func parse(
        _ text: String, at location: SourceLocation, locate: (Int) -> SourceLocation
    ) -> (template: Template, problems: [Problem]) {
        guard text.contains("{{") || text.contains("}}") else {
            return (Template(literal: text, location: location), [])
        }
        var segments: [Template.Segment] = []
        var problems: [Problem] = []
        let scalars = Array(text.unicodeScalars)
        var literal = String.UnicodeScalarView()
        var index = 0
        func flushLiteral() {
            if !literal.isEmpty { segments.append(.literal(String(literal))) }
            literal = String.UnicodeScalarView()
        }
        while index < scalars.count {
            if scalars[index] == "{", index + 1 < scalars.count, scalars[index + 1] == "{" {
                let open = index
                var close = index + 2
                while close + 1 < scalars.count, !(scalars[close] == "}" && scalars[close + 1] == "}") { close += 1 }
                guard close + 1 < scalars.count else {
                    problems.append(Problem(offset: open, message: "`{{` is never closed; end the placeholder with `}}`"))
                    return (Template(literal: text, location: location), problems)
                }
                let name = String(String.UnicodeScalarView(scalars[(open + 2)..<close])).trimmingSpaces()
                let leading = scalars[(open + 2)..<close].prefix(while: { $0 == " " || $0 == "\t" }).count
                if name.isEmpty {
                    problems.append(Problem(offset: open, message: "empty placeholder `{{ }}`; name a variable such as `{{ target.name }}`"))
                } else if let variable = TemplateVariable(name) {
                    flushLiteral()
                    segments.append(.variable(variable, location: locate(open + 2 + leading)))
                } else {
                    problems.append(Problem(offset: open + 2 + leading, message: unknownVariableMessage(name)))
                }
                index = close + 2
            } else if scalars[index] == "}", index + 1 < scalars.count, scalars[index + 1] == "}" {
                problems.append(Problem(offset: index, message: "`}}` without an opening `{{`"))
                literal.append(contentsOf: scalars[index...(index + 1)])
                index += 2
            } else {
                literal.append(scalars[index])
                index += 1
            }
        }
        flushLiteral()
        return (Template(text: text, segments: segments, location: location), problems)
    }

    static func unknownVariableMessage(_ name: String) -> String {
        let known = ["target.name", "run.id", "stage.name", "runbook.dir", "file"]
        var suggestion = Suggestion.closest(to: name, among: known)
        // `target.var.url` or `var.x`: suggest the right prefix with the author's own key.
        let parts = name.split(separator: ".").map(String.init)
        if suggestion == nil, let key = parts.last, parts.count >= 2 {
            let prefix = parts.dropLast().joined(separator: ".")
            let prefixes = ["target.vars", "target.labels", "vars"]
            if let closePrefix = Suggestion.closest(to: prefix, among: prefixes), TemplateVariable.isKey(key) {
                suggestion = "\(closePrefix).\(key)"
            }
        }
        let hint = suggestion.map { "; did you mean `\($0)`?" }
            ?? "; known variables: \(TemplateVariable.forms.joined(separator: ", "))"
        return "unknown template variable `\(name)`\(hint)"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
