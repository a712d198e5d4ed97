import NIOSSL
import TouchpointConfig

/// MLLP over TLS (`tls_cert`, `tls_key`), mutual when `tls_client_ca` is
/// set: then the engine must present a certificate that CA signed, or the
/// handshake fails and no byte of HL7 is read. TLS 1.2 at least. The
/// context is made once at start (and by `--check-config`), so a key that
/// does not match its certificate, or a file that cannot be read, stops the
/// receiver at start with the file named, not at the first connection.
public enum ReceiverTLS {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The server's TLS context, or nil when the config has no `tls_cert`.
    public static func context(for config: HL7Config) throws(Failure) -> NIOSSLContext? {
        guard !config.tlsCert.isEmpty else { return nil }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(config.tlsCert)
        } catch {
            throw Failure(description: "\(config.file): tls_cert: cannot read a PEM certificate from \(config.tlsCert) (\(error))")
        }
        guard !chain.isEmpty else { throw Failure(description: "\(config.file): tls_cert: no certificate in \(config.tlsCert)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: config.tlsKey, format: .pem)
        } catch {
            throw Failure(description: "\(config.file): tls_key: cannot read a PEM private key from \(config.tlsKey) (\(error))")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if !config.tlsClientCA.isEmpty {
            do {
                guard try !NIOSSLCertificate.fromPEMFile(config.tlsClientCA).isEmpty else {
                    throw Failure(description: "\(config.file): tls_client_ca: no certificate in \(config.tlsClientCA)")
                }
            } catch let f as Failure {
                throw f
            } catch {
                throw Failure(description: "\(config.file): tls_client_ca: cannot read a PEM certificate from \(config.tlsClientCA) (\(error))")
            }
            // The engine's certificate must chain to this CA; it has no host name to check (it is the client).
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .file(config.tlsClientCA)
            tls.sendCANameList = true
        }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw Failure(description: "\(config.file): tls_cert and tls_key: \(error) (does the key belong to the certificate?)")
        }
    }

    /// What `--check-config` and the start-up log say of TLS.
    public static func summary(for config: HL7Config) -> String {
        if config.tlsCert.isEmpty { return "MLLP without TLS" }
        return config.tlsClientCA.isEmpty ? "MLLP over TLS" : "MLLP over mutual TLS (the engine's certificate must be signed by tls_client_ca)"
    }
}
