# frozen_string_literal: true

require "stringio"

RSpec.describe MailroomJWT::Demo do
  it "shows a valid delivery queued, a tampered and a stale token refused, and cleans up" do
    out = StringIO.new
    demo = described_class.new(out: out)
    expect(demo.run).to be(true)

    expect(demo.outcomes.map { |o| [o.name, o.status] })
      .to eq([["valid token", 200], ["tampered token", 401], ["stale token", 401]])
    expect(demo.outcomes[1].reason).to match(/VerificationError/)
    expect(demo.outcomes[2].reason).to match(/ExpiredSignature/)

    text = out.string
    queued = text[%r{the email now lies in (\S+/spool/incoming_email/new/\S+)}, 1]
    expect(queued).not_to be_nil
    dir = text[/^Removed (\S+) and everything in it/, 1]
    expect(queued).to start_with(dir)
    expect(File.exist?(dir)).to be(false)
  end

  it "keeps its directory with the accepted email when asked" do
    out = StringIO.new
    expect(described_class.new(out: out, keep: true, server: "webrick").run).to be(true)
    queued = out.string[%r{the email now lies in (\S+)}, 1]
    dir = out.string[/^Kept (\S+)/, 1]
    begin
      expect(File.binread(queued)).to eq(described_class::SAMPLE_EMAIL)
      expect(File.stat(File.join(dir, ".gitlab_incoming_email_secret")).mode & 0o777).to eq(0o600)
    ensure
      FileUtils.remove_entry_secure(dir) if dir
    end
  end
end
