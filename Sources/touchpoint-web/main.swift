import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import TouchpointConfig
import TouchpointLinux
import TouchpointWeb

#if canImport(Glibc)
import Glibc
#endif

/// touchpoint-web: the ward's web view. Everything happens in TouchpointWeb.
struct TouchpointWebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "touchpoint-web",
        abstract: "The ward's web view: nurses see the call list and record outcomes in a browser.",
        discussion: "Serves until stopped. Exit codes: 0 success, 1 failed or refused, 2 bad usage.",
        version: "0.1.0",
        subcommands: [User.self])

    @OptionGroup var options: ConfigOption

    @Flag(name: .long, help: "Check the config, print what is wrong, exit 0 or 1.")
    var checkConfig = false

    @Option(name: .long, help: "Override log.target: auto (the journal when it answers), journal or stderr.")
    var logTarget: TouchpointConfig.LogTarget?
}

extension TouchpointConfig.LogTarget: ExpressibleByArgument {}

/// `--config`, before or after the command name.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The config file.")
    var config = "/etc/touchpoint/web.toml"

    /// The accounts under the config's `state_dir`.
    func accounts() throws -> Accounts {
        do {
            return try Accounts.openForAdmin(try WebConfig.load(path: config))
        } catch {
            fail("\(error)")
        }
    }
}

struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the nurses' accounts (one per person, never a shared ward login).",
        subcommands: [Add.self, Passwd.self, Disable.self, Enable.self, List.self])


    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account; prints a generated password unless --password-stdin.")
        @Argument(help: "The person's user name.") var name: String
        @Option(name: .long, help: "A ward whose calls the account sees (repeat for more; none: every ward).") var ward: [String] = []
        @Flag(name: .long, help: "Read the password (at least 12 characters) from standard input.") var passwordStdin = false
        @OptionGroup var options: ConfigOption

        func run() throws {
            let (password, generated) = try readPassword(passwordStdin)
            try attempt { try options.accounts().add(name, wards: ward, password: password) }
            print("added \(name)\(ward.isEmpty ? " (every ward)" : " (\(ward.joined(separator: ", ")))")")
            if generated { print("password: \(password)\ngive it to \(name) in person; it is not shown again") }
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a new password (ends the account's sessions and any lockout).")
        @Argument var name: String
        @Flag(name: .long, help: "Read the password from standard input.") var passwordStdin = false
        @OptionGroup var options: ConfigOption

        func run() throws {
            let (password, generated) = try readPassword(passwordStdin)
            try attempt { try options.accounts().setPassword(name, password) }
            print("password changed for \(name)")
            if generated { print("password: \(password)") }
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: its sessions end at once.")
        @Argument var name: String
        @OptionGroup var options: ConfigOption

        func run() throws {
            try attempt { try options.accounts().setDisabled(name, true) }
            print("disabled \(name)")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
        @Argument var name: String
        @OptionGroup var options: ConfigOption

        func run() throws {
            try attempt { try options.accounts().setDisabled(name, false) }
            print("enabled \(name)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts.")
        @Flag(name: .long, help: "Print one JSON object.") var json = false
        @OptionGroup var options: ConfigOption

        func run() throws {
            let all = try options.accounts().list()
            if json {
                let rows = all.map { ["name": $0.name, "wards": $0.wards, "disabled": $0.disabled] as [String: Any] }
                let data = try JSONSerialization.data(withJSONObject: ["accounts": rows], options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            if all.isEmpty { print("no accounts (touchpoint-web user add NAME)") }
            for a in all {
                print("\(a.name)\t\(a.wards.isEmpty ? "every ward" : a.wards.joined(separator: ","))\(a.disabled ? "\tdisabled" : "")")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("touchpoint-web: \(message)\n".utf8))
    exit(1)
}

func attempt(_ body: () throws -> Void) throws {
    do { try body() } catch { fail("\(error)") }
}

/// A password from standard input (one line), or a generated one.
func readPassword(_ fromStdin: Bool) throws -> (String, Bool) {
    guard fromStdin else { return (Accounts.generatedPassword(), true) }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else { fail("no password on standard input") }
    return (line, false)
}

// As touchpointd: signals blocked before any thread starts, NIO's loops run
// Swift concurrency, no top-level await.
SignalWatcher.block(WebMain.signals)
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
var command: any ParsableCommand
do {
    command = try TouchpointWebCommand.parseAsRoot()
} catch {
    TouchpointWebCommand.exit(withError: error)
}
guard let options = command as? TouchpointWebCommand else {
    // touchpoint-web user ...
    do { try command.run() } catch { TouchpointWebCommand.exit(withError: error) }
    exit(0)
}
if options.checkConfig { exit(WebMain.checkConfig(path: options.options.config)) }
let (path, target) = (options.options.config, options.logTarget)
let status = MultiThreadedEventLoopGroup.singleton.any().makeFutureWithTask { await WebMain.serve(configPath: path, logTarget: target) }
exit((try? status.wait()) ?? 1)
