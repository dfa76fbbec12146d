import HTTPTypes
import PyRunKit
import Testing

@testable import PyRunConsole

/// The console's access rules on request heads, without a server: token, host and origin.
@Suite struct ConsoleAccessTests {
    let loopback = ConsoleAccess(token: "right-token", address: ConsoleAddress(host: "127.0.0.1", port: 0), port: 8123)

    func request(
        _ path: String = "/console.js", host: String = "127.0.0.1:8123", origin: String? = nil, cookie: String? = nil,
        authorization: String? = nil
    ) -> HTTPRequest {
        var fields = HTTPFields()
        if let origin { fields[.origin] = origin }
        if let cookie { fields[.cookie] = cookie }
        if let authorization { fields[.authorization] = authorization }
        return HTTPRequest(method: .get, scheme: nil, authority: host, path: path, headerFields: fields)
    }

    // MARK: - The token

    @Test func theTokenIsAcceptedFromTheCookieTheBearerHeaderOrThePagesQuery() {
        #expect(
            loopback.check(
                request(cookie: "a=b; pyrun_console_token=right-token"), queryToken: nil, requireOrigin: false) == nil)
        #expect(
            loopback.check(request(authorization: "Bearer right-token"), queryToken: nil, requireOrigin: false) == nil)
        #expect(loopback.check(request("/"), queryToken: "right-token", requireOrigin: false) == nil)
    }

    @Test func aMissingOrWrongTokenIsRefusedWith401() {
        let refusals = [
            loopback.check(request(), queryToken: nil, requireOrigin: false),
            loopback.check(request(cookie: "pyrun_console_token=wrong-token"), queryToken: nil, requireOrigin: false),
            loopback.check(request(cookie: "pyrun_console_token=right-toke"), queryToken: nil, requireOrigin: false),
            loopback.check(
                request(cookie: "pyrun_console_token=right-token-and-more"), queryToken: nil, requireOrigin: false),
            loopback.check(request(authorization: "Basic right-token"), queryToken: nil, requireOrigin: false),
            loopback.check(request("/"), queryToken: "wrong", requireOrigin: false),
        ]
        #expect(refusals.allSatisfy { $0 == .missingToken })
        #expect(ConsoleAccess.Refusal.missingToken.status == .unauthorized)
    }

    @Test func tokensAre43CharactersOfBase64URLAndNeverRepeat() {
        let tokens = (0..<50).map { _ in ConsoleToken.make() }
        #expect(Set(tokens).count == 50)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(tokens.allSatisfy { $0.count == 43 && $0.allSatisfy(alphabet.contains) })
        #expect(ConsoleToken.base64URL(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw")
        #expect(ConsoleToken.base64URL([0xFB, 0xFF]) == "-_8")
    }

    // MARK: - Host and origin

    @Test func everyNameOfLoopbackIsAcceptedAndNoOtherHost() {
        for host in ["127.0.0.1:8123", "localhost:8123", "[::1]:8123", "LOCALHOST:8123"] {
            #expect(
                loopback.check(
                    request(host: host, cookie: "pyrun_console_token=right-token"), queryToken: nil,
                    requireOrigin: false) == nil)
        }
        for host in ["attacker.example:8123", "127.0.0.1:9999", "127.0.0.1"] {
            #expect(
                loopback.check(
                    request(host: host, cookie: "pyrun_console_token=right-token"), queryToken: nil,
                    requireOrigin: false) == .unknownHost)
        }
    }

    @Test func everyInterfaceAnswersToIPAddressesLocalhostAndTheMachinesNameButNoOtherName() {
        let cookie = "pyrun_console_token=right-token"
        for wildcard in ["0.0.0.0", "::"] {
            let access = ConsoleAccess(
                token: "right-token", address: ConsoleAddress(host: wildcard, port: 0), port: 8123,
                machineNames: ["build-box"])
            for host in [
                "192.168.1.4:8123", "10.0.0.7:8123", "127.0.0.1:8123", "[::1]:8123", "[fe80::1]:8123",
                "localhost:8123", "build-box:8123", "BUILD-BOX:8123",
            ] {
                #expect(
                    access.check(request(host: host, cookie: cookie), queryToken: nil, requireOrigin: false) == nil,
                    "\(host) on \(wildcard)")
            }
            // A name DNS can point anywhere (rebinding), a malformed address, another port, none.
            for host in [
                "evil.example:8123", "build-box.evil.example:8123", "1.2.3:8123", "1.2.3.4.5:8123", "::1:8123",
                "[evil.example]:8123", "192.168.1.4:9999", "192.168.1.4", "",
            ] {
                #expect(
                    access.check(request(host: host, cookie: cookie), queryToken: nil, requireOrigin: false)
                        == .unknownHost, "\(host) on \(wildcard)")
            }
        }
        #expect(ConsoleAccess.Refusal.unknownHost.status == .forbidden)
        #expect(!ConsoleAccess.machineNames().isEmpty, "gethostname gave no name")
    }

    @Test func anotherOriginOrANullOneIsRefusedWith403AndTheSocketNeedsOne() {
        let cookie = "pyrun_console_token=right-token"
        #expect(
            loopback.check(
                request(origin: "http://127.0.0.1:8123", cookie: cookie), queryToken: nil, requireOrigin: true) == nil)
        #expect(
            loopback.check(
                request(origin: "http://evil.example", cookie: cookie), queryToken: nil, requireOrigin: false)
                == .foreignOrigin)
        #expect(
            loopback.check(request(origin: "null", cookie: cookie), queryToken: nil, requireOrigin: false)
                == .foreignOrigin)
        // The origin must be the one the request names itself by, not just any loopback name.
        #expect(
            loopback.check(
                request(origin: "http://localhost:8123", cookie: cookie), queryToken: nil, requireOrigin: false)
                == .foreignOrigin)
        #expect(loopback.check(request(cookie: cookie), queryToken: nil, requireOrigin: true) == .foreignOrigin)
        #expect(ConsoleAccess.Refusal.foreignOrigin.status == .forbidden)
    }

    // MARK: - Addresses

    @Test func addressesParseAndSayWhetherTheyAreLoopback() throws {
        #expect(try ConsoleAddress(parsing: "8888") == ConsoleAddress(host: "127.0.0.1", port: 8888))
        #expect(try ConsoleAddress(parsing: "127.0.0.1:0").isLoopback)
        #expect(try ConsoleAddress(parsing: "localhost:80").isLoopback)
        #expect(try ConsoleAddress(parsing: "[::1]:9000") == ConsoleAddress(host: "::1", port: 9000))
        #expect(try ConsoleAddress(parsing: "[::1]:9000").description == "[::1]:9000")
        #expect(try !ConsoleAddress(parsing: "0.0.0.0:8888").isLoopback)
        #expect(try !ConsoleAddress(parsing: "192.168.1.4:8888").isLoopback)
        for bad in ["", "127.0.0.1:", "127.0.0.1:70000", "example.com:80", "300.1.1.1:80", "[::1]9000", "1.2.3:80"] {
            #expect(throws: ConsoleAddress.Invalid.self) { try ConsoleAddress(parsing: bad) }
        }
    }

    // MARK: - What a tab may ask

    @Test func theJournalRecordsALabelTheServerMakesAndStopIsRefused() throws {
        func admitted(_ op: String, client: String?) -> JSONValue? {
            var fields: [String: JSONValue] = ["op": .string(op), "session": .string("main")]
            if let client { fields["client"] = .string(client) }
            guard case .pass(let request) = ConsoleClientRequests.admit(JSONValue.object(fields).serialized()) else {
                return nil
            }
            return request
        }
        #expect(admitted("execute", client: "tab-0a1b2c")?["client"]?.stringValue == "console:tab-0a1b2c")
        #expect(admitted("interrupt", client: "terminal")?["client"]?.stringValue == "console:unnamed")
        #expect(admitted("reset", client: nil)?["client"]?.stringValue == "console:unnamed")
        #expect(admitted("execute", client: "tab-0A1B2C")?["client"]?.stringValue == "console:unnamed")
        #expect(admitted("sessions", client: "anything")?["client"]?.stringValue == "anything")
        guard case .refuse(let refusal) = ConsoleClientRequests.admit(#"{"op":"stop","tag":"t"}"#) else {
            Issue.record("stop was passed on")
            return
        }
        #expect(refusal["type"]?.stringValue == "error")
        #expect(refusal["tag"]?.stringValue == "t")
    }

    @Test func onlyJSONReachesTheServerSoNoLineCanBeSmuggledIn() throws {
        // Two requests in one message, the second on a line of its own, unlabelled.
        let smuggled =
            "{\"op\":\"sessions\"}\n{\"op\":\"execute\",\"session\":\"main\",\"code\":\"1\",\"client\":\"agent\"}"
        guard case .refuse(let refusal) = ConsoleClientRequests.admit(smuggled) else {
            Issue.record("a message of two lines was passed on")
            return
        }
        #expect(refusal["type"]?.stringValue == "error")
        // A newline inside a string stays escaped in what is passed on: one line.
        guard case .pass(let request) = ConsoleClientRequests.admit(#"{"op":"execute","code":"a\nb","client":"x"}"#)
        else {
            Issue.record("a request was refused")
            return
        }
        #expect(!request.serialized().contains("\n"))
        #expect(request["code"]?.stringValue == "a\nb")
    }
}
