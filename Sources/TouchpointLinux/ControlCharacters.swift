import Foundation

/// The characters a terminal acts on rather than shows: C0 (newline,
/// carriage return, escape, ...), DEL and C1. Written once for the two
/// places that escape them: `touchpointctl`'s output for a person
/// (`TerminalText`) and log lines on standard error (`JournalLogHandler`).
public enum ControlCharacters {
    public static func contains(_ value: UInt32) -> Bool {
        value < 0x20 || (0x7F...0x9F).contains(value)
    }

    /// `\u001b`: the escape that shows one (JSON's and Swift's spelling).
    public static func escape(_ value: UInt32) -> String {
        "\\u" + String(format: "%04x", value)
    }
}
