import Testing

@testable import PyRunMCP

@Suite struct SecretRedactorTests {
    private let environment = [
        "OPENAI_API_KEY": "sk-test-1234567890abcdef",
        "GITHUB_TOKEN": "ghp_abcdefghijklmnop",
        "db_password": "hunter2hunter2",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
        "KEYBOARD_LAYOUT": "us",  // secret-looking name, trivially short value
        "FEATURE_TOKEN_ENABLED": "true",
        "HOME": "/home/agent-with-a-long-name",
    ]

    @Test func secretLookingNamesAreRecognisedInAnyCase() {
        for name in ["API_KEY", "api_key", "MyToken", "CLIENT_SECRET", "Password", "PGPASSWORD", "MONKEY"] {
            #expect(SecretRedactor.looksSecret(name), "\(name)")
        }
        for name in ["HOME", "PATH", "USER", "PWD", "LANG"] {
            #expect(!SecretRedactor.looksSecret(name), "\(name)")
        }
    }

    @Test func onlyValuesOfSecretLookingVariablesOfTheMinimumLengthAreSecrets() {
        let redactor = SecretRedactor(environment: environment)
        #expect(
            Set(redactor.secrets) == [
                "sk-test-1234567890abcdef", "ghp_abcdefghijklmnop", "hunter2hunter2", "wJalrXUtnFEMI/K7MDENG",
            ])
        #expect(SecretRedactor.minimumSecretLength == 8)
        #expect(SecretRedactor(secrets: ["1234567"]).secrets.isEmpty)
        #expect(SecretRedactor(secrets: ["12345678"]).secrets == ["12345678"])
    }

    @Test func everyOccurrenceIsReplaced() {
        let redactor = SecretRedactor(environment: environment)
        let text = "key=sk-test-1234567890abcdef\nagain sk-test-1234567890abcdef and ghp_abcdefghijklmnop; us true\n"
        #expect(redactor.redact(text) == "key=[redacted]\nagain [redacted] and [redacted]; us true\n")
    }

    @Test func aSecretContainingAnotherGoesWhole() {
        let redactor = SecretRedactor(secrets: ["abcdefgh", "xxabcdefghyy"])
        #expect(redactor.redact("1 xxabcdefghyy 2 abcdefgh") == "1 [redacted] 2 [redacted]")
    }

    @Test func theDisabledRedactorChangesNothing() {
        #expect(SecretRedactor.disabled.redact("sk-test-1234567890abcdef") == "sk-test-1234567890abcdef")
    }

    @Test func aSecretSplitAcrossChunksIsStillCaught() {
        let secret = "sk-test-1234567890abcdef"
        let text = "before \(secret) middle \(secret)\(secret) after"
        let redacted = "before [redacted] middle [redacted][redacted] after"
        for chunkSize in [1, 2, 3, 5, 7, 11, 23, 24, 25, 100] {
            var stream = StreamingRedactor(SecretRedactor(secrets: [secret]))
            var out = ""
            var rest = Substring(text)
            while !rest.isEmpty {
                out += stream.feed(String(rest.prefix(chunkSize)))
                #expect(!out.contains("sk-test-12"), "chunk size \(chunkSize)")
                rest = rest.dropFirst(chunkSize)
            }
            out += stream.finish()
            #expect(out == redacted, "chunk size \(chunkSize)")
        }
    }

    @Test func theStreamHoldsBackOnlyWhatCouldStartASecret() {
        var stream = StreamingRedactor(SecretRedactor(secrets: ["password123"]))
        #expect(stream.feed("hello world") == "hello world")
        #expect(stream.feed(" pass") == " ")
        #expect(stream.pending == "pass")
        #expect(stream.feed("port") == "passport")
        #expect(stream.feed(" passwo") == " ")
        #expect(stream.finish() == "passwo")
    }
}

@Suite struct KernelEnvironmentPolicyTests {
    private let host = [
        "PATH": "/usr/bin", "HOME": "/home/a", "LANG": "C.UTF-8", "LC_ALL": "C", "LC_CTYPE": "UTF-8",
        "TERM": "xterm", "TMPDIR": "/tmp", "USER": "a", "VIRTUAL_ENV": "/venv", "PYTHONPATH": "/lib",
        "PYTHONUNBUFFERED": "1", "OPENAI_API_KEY": "sk-x", "AWS_PROFILE": "prod", "SSH_AUTH_SOCK": "/s",
        "LOGNAME": "a", "MY_SETTING": "1",
    ]

    @Test func theDefaultAllowListPassesWhatPythonNeedsAndNothingElse() {
        let passed = KernelEnvironmentPolicy().filter(host)
        #expect(
            Set(passed.keys) == [
                "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR", "USER", "VIRTUAL_ENV", "PYTHONPATH",
                "PYTHONUNBUFFERED",
            ])
        #expect(passed["PYTHONPATH"] == "/lib")
    }

    @Test func passEnvAddsNames() {
        let policy = KernelEnvironmentPolicy(passing: ["AWS_PROFILE", "NOT_SET"])
        #expect(policy.filter(host)["AWS_PROFILE"] == "prod")
        #expect(policy.filter(host)["NOT_SET"] == nil)
        #expect(policy.withheldNames(of: host) == ["LOGNAME", "MY_SETTING", "OPENAI_API_KEY", "SSH_AUTH_SOCK"])
    }

    @Test func prefixesAreNotSubstrings() {
        let policy = KernelEnvironmentPolicy()
        #expect(!policy.allows("MY_PYTHONPATH"))
        #expect(!policy.allows("XLC_ALL"))
        #expect(!policy.allows("path"))
    }
}
