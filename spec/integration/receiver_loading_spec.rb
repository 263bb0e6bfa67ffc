# frozen_string_literal: true

require "open3"
require "rbconfig"

RSpec.describe "Loading the receiver side", :integration do
  def loaded_after(code)
    lib = File.expand_path("../../lib", __dir__)
    script = "#{code}; puts $LOADED_FEATURES.grep(%r{/(rack|sidekiq|psych|yaml|redis_client|redis-client)[^/]*\\.rb\\z}).map { |f| File.basename(f) }.uniq.sort"
    out, err, status = Open3.capture3(RbConfig.ruby, "-I", lib, "-e", script)
    raise "ruby failed: #{err}" unless status.success?

    out.split("\n")
  end

  it "require 'mailroom_jwt' loads neither Rack, Sidekiq, Redis nor YAML" do
    expect(loaded_after('require "mailroom_jwt"; MailroomJWT::Authenticatable; MailroomJWT::InternalAPI; ' \
                        "MailroomJWT::Queue::Spool; MailroomJWT::ReplayCache::Memory")).to eq([])
  end

  it "loads YAML with the mailboxes, and Sidekiq only with the Sidekiq queue" do
    expect(loaded_after('require "mailroom_jwt"; MailroomJWT::Mailboxes')).to include("yaml.rb")
    expect(loaded_after('require "mailroom_jwt"; MailroomJWT::Authenticator')).not_to include("sidekiq.rb")
    expect(loaded_after('require "mailroom_jwt"; MailroomJWT::Queue::Sidekiq')).to include("sidekiq.rb")
  end
end
