# frozen_string_literal: true

require "open3"
require "rbconfig"

RSpec.describe MailroomJWT do
  it "has a version" do
    expect(MailroomJWT::VERSION).to match(/\A\d+\.\d+\.\d+\z/)
  end

  it "loads the core without any gem beyond Ruby's standard library" do
    lib = File.expand_path("../lib", __dir__)
    script = 'require "mailroom_jwt"; puts $LOADED_FEATURES.grep(%r{/gems/}).join("\n")'
    out, status = Open3.capture2e({ "RUBYOPT" => nil, "BUNDLE_GEMFILE" => nil }, RbConfig.ruby, "-I", lib, "-e", script)
    expect(status).to be_success, out
    expect(out.lines.map(&:strip).reject(&:empty?).grep_v(%r{/gems/(json|logger)-})).to eq([])
  end

  it "loads from gitlab-mailroom-jwt.rb for Bundler's auto-require" do
    lib = File.expand_path("../lib", __dir__)
    out, status = Open3.capture2e(RbConfig.ruby, "-I", lib, "-e", 'require "gitlab-mailroom-jwt"; print MailroomJWT::Key.generate.class')
    expect([out, status.success?]).to eq(["MailroomJWT::Key", true])
  end

  it "logs to stderr at WARN by default and takes another logger" do
    original = described_class.logger
    expect(original.level).to eq(Logger::WARN)
    other = Logger.new(StringIO.new)
    described_class.logger = other
    expect(described_class.logger).to equal(other)
  ensure
    described_class.logger = original
  end
end
