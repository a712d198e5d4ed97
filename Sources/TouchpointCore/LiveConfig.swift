import Foundation
import Synchronization
import TouchpointConfig
import TouchpointDispatch

public enum TouchpointVersion {
    public static let string = "0.1.0"
}

/// The configuration in force: replaced whole by a reload, read by every
/// operation. Work that started under the old one finishes with it.
final class LiveConfig: Sendable {
    private let current: Mutex<(TouchpointConfig, NoticeTemplates)>
    let startedAt = Date()
    /// How many times the config was replaced: what was derived from it may be stale.
    private let replaced = Atomic<UInt64>(0)
    var generation: UInt64 { replaced.load(ordering: .acquiring) }

    init(config: TouchpointConfig, templates: NoticeTemplates) {
        current = Mutex((config, templates))
    }

    var config: TouchpointConfig { current.withLock { $0.0 } }
    var templates: NoticeTemplates { current.withLock { $0.1 } }

    func replace(_ config: TouchpointConfig, _ templates: NoticeTemplates) {
        current.withLock { $0 = (config, templates) }
        replaced.add(1, ordering: .releasing)
    }
}
