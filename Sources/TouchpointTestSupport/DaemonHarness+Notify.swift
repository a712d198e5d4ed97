import Foundation

extension DaemonHarness {
    /// Where the test's Notify key is written.
    public var notifyKeyPath: String { dir + "/notify-api-key" }

    /// Points the daemon's config at `double`: `transport.kind = "notify"`,
    /// its key in a file of its own (0600), a poll as short as Notify allows,
    /// quick retries. `key` replaces the double's key (a wrong one, say);
    /// `transport` and `notify` add keys to those sections.
    public func useNotify(_ double: NotifyDouble, key: String? = nil, transport: String = "", notify: String = "",
                          topLevel: String = "", extra: String = "") throws {
        try (key ?? double.apiKey).write(toFile: notifyKeyPath, atomically: true, encoding: .utf8)
        chmod(notifyKeyPath, 0o600)
        var text = config(topLevel: topLevel, extra: extra)
        text = text.replacingOccurrences(of: "[transport]\noutbox_dir = \"spool/outbox\"\n", with: """
            [transport]
            outbox_dir = "spool/outbox"
            kind = "notify"
            backoff_initial = "1s"
            backoff_max = "2s"
            \(transport)

            [transport.notify]
            \(notify.contains("base_url") ? "" : "base_url = \"\(double.baseURL)\"")
            api_key_file = "\(notifyKeyPath)"
            sms_template_id = "\(double.smsTemplateID)"
            email_template_id = "\(double.emailTemplateID)"
            \(notify.contains("receipt_poll") ? "" : "receipt_poll = \"1s\"")
            \(notify.contains("timeout") ? "" : "timeout = \"5s\"")
            \(notify)

            """)
        try writeConfig(text)
    }
}
