import Foundation
import Testing
@testable import SluiceCore

@Suite("Shell quoting: no value can become shell syntax")
struct ShellQuotingTests {
    static let hostileValues = [
        "; rm -rf /",
        "$(touch /tmp/sluice-pwned)",
        "`touch /tmp/sluice-pwned`",
        "it's",
        "'",
        "''",
        "\"double\" and 'single'",
        "line one\nline two",
        "trailing newline\n",
        "tab\there",
        "$HOME ${PATH} $1 $@ $*",
        "a && b || c | d > e < f &",
        "*.conf ? [ab]",
        "~root",
        "-rf",
        "",
        " ",
        "\\ backslash \\n",
        "naïve café 東京 🚦",
        "#not a comment",
        "!history",
        "{a,b}",
        "x=1 y=2",
        "\u{1B}[31mred",
    ]

    @Test(arguments: hostileValues)
    func shellReadsBackTheExactValue(_ value: String) throws {
        // Given a string command that prints a runbook variable holding a hostile value
        let command = try Self.command("printf '%s' {{ vars.v }}")
        // When it is rendered and run by /bin/sh
        let rendered = try command.render(in: RenderContext(vars: ["v": value], runbookDirectory: "/"))
        let output = try Self.runShell(rendered)
        // Then the shell printed the value, byte for byte, and nothing ran
        #expect(output == value)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/sluice-pwned"))
    }

    @Test(arguments: hostileValues)
    func argvInsertsValuesVerbatim(_ value: String) throws {
        let command = Command(.argv([
            Template(literal: "printf", location: Self.here), Template(literal: "%s", location: Self.here),
            try Self.template("{{ vars.v }}"),
        ]), location: Self.here)
        let rendered = try command.render(in: RenderContext(vars: ["v": value], runbookDirectory: "/"))
        #expect(rendered == .argv(["printf", "%s", value]))
    }

    @Test func valueWithNULIsRefused() throws {
        let command = try Self.command("printf '%s' {{ vars.v }}")
        #expect(throws: TemplateRenderError.self) {
            try command.render(in: RenderContext(vars: ["v": "a\0b"], runbookDirectory: "/"))
        }
    }

    @Test(arguments: [
        ("web-01.example.org", "web-01.example.org"),
        ("/etc/nginx/conf.d/a.conf", "/etc/nginx/conf.d/a.conf"),
        ("http://127.0.0.1:8081/health", "http://127.0.0.1:8081/health"),
        ("two words", "'two words'"),
        ("it's", #"'it'\''s'"#),
        ("", "''"),
    ])
    func readableWordsStayBare(_ value: String, _ quoted: String) {
        #expect(ShellQuoting.quote(value) == quoted)
    }

    @Test func secretValuesAreMaskedForDisplay() throws {
        let command = try Self.command("curl -H {{ vars.token }} {{ target.name }}")
        let context = RenderContext(
            target: Target(name: "web1", location: Self.here), vars: ["token": "s3cr'et"], secretVars: ["token"],
            runbookDirectory: "/")
        #expect(try command.render(in: context, redactingSecrets: true) == .shell("curl -H *** web1"))
        #expect(try command.render(in: context) == .shell(#"curl -H 's3cr'\''et' web1"#))
    }

    // MARK: Helpers

    static let here = SourceLocation(file: "test.yaml", line: 1, column: 1)

    static func template(_ text: String) throws -> Template {
        let (template, problems) = TemplateParser.parse(text, at: here) { _ in here }
        try #require(problems.isEmpty)
        return template
    }

    static func command(_ text: String) throws -> Command {
        Command(.shell(try template(text)), location: here)
    }

    static func runShell(_ command: RenderedCommand) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = Array(command.executableArguments.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("Template parsing")
struct TemplateParsingTests {
    @Test(arguments: [
        ("{{ target.name }}", TemplateVariable.targetName),
        ("{{target.labels.dc}}", .targetLabel("dc")),
        ("{{  target.vars.url  }}", .targetVar("url")),
        ("{{ vars.api_token }}", .runbookVar("api_token")),
        ("{{ run.id }}", .runID),
        ("{{ stage.name }}", .stageName),
        ("{{ runbook.dir }}", .runbookDirectory),
        ("{{ file }}", .file),
    ])
    func recognisesEveryVariable(_ text: String, _ variable: TemplateVariable) throws {
        let template = try ShellQuotingTests.template(text)
        #expect(template.variables.map(\.variable) == [variable])
    }

    @Test func literalTextAroundPlaceholdersIsKept() throws {
        let template = try ShellQuotingTests.template("a {{ target.name }}b{{ run.id }}")
        #expect(template.segments == [
            .literal("a "), .variable(.targetName, location: ShellQuotingTests.here), .literal("b"),
            .variable(.runID, location: ShellQuotingTests.here),
        ])
    }

    @Test func undefinedVariableFailsToRender() throws {
        let template = try ShellQuotingTests.template("{{ target.vars.url }}")
        let context = RenderContext(target: Target(name: "web1", location: ShellQuotingTests.here), runbookDirectory: "/")
        #expect(throws: TemplateRenderError.undefined(.targetVar("url"), at: ShellQuotingTests.here)) {
            try template.render(in: context, quoting: .verbatim)
        }
    }
}
