#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that a reader sees the old content or the new, never half:
/// a temporary name in the same directory, fsync, rename, fsync of the
/// directory (so the rename itself survives a power cut). Used for outbox
/// messages and the wards' exported call lists, which hold patient data.
public enum AtomicFile {
    /// Writes `bytes` to `path` with `mode`. `temporaryName` is the name the
    /// file has while it is written (a dot file, so directory watchers that
    /// skip dot files never pick up half a file).
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t,
                             temporaryName: String? = nil) throws(SystemError) {
        Blocking.check()
        let directory = Self.directory(of: path)
        let name = String(path.split(separator: "/").last ?? Substring(path))
        let tmp = directory + "/" + (temporaryName ?? ".\(name).tmp")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("cannot write \(tmp)") }
        fchmod(fd, mode)
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let n = array[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let e = SystemError("cannot write \(tmp)")
                close(fd)
                unlink(tmp)
                throw e
            }
            offset += n
        }
        if fsync(fd) != 0 {
            let e = SystemError("cannot flush \(tmp) to disk")
            close(fd)
            unlink(tmp)
            throw e
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = SystemError("cannot rename \(tmp) to \(path)")
            unlink(tmp)
            throw e
        }
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
