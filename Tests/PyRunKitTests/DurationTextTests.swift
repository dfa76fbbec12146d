import Testing

@testable import PyRunKit

@Suite struct DurationTextTests {
    @Test(arguments: [
        (Duration.seconds(30), "30 s"), (.milliseconds(1500), "1.5 s"), (.milliseconds(300), "0.3 s"),
        (.milliseconds(50), "50 ms"), (.milliseconds(1), "1 ms"), (.milliseconds(250), "250 ms"),
        (.zero, "0 s"),
    ])
    func aBoundReadsAsItWasSet(duration: Duration, text: String) {
        #expect(duration.formattedSeconds == text)
    }
}
