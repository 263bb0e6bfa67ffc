# frozen_string_literal: true

# The spec suite under the garbage-collector switches of spec/spec_helper.rb:
#
#   rake gc:compact        the whole suite with GC_COMPACT=1: the heap compacted
#                          (references verified) before the suite, then
#                          automatic compaction throughout
#   rake gc:stress         GC_STRESS=1 (a full collection at every allocation)
#                          on spec/native/gc_paths_spec.rb: every entry point
#                          of the extension, results checked (CI's form; a
#                          few minutes, GC.stress is ~1000 times slower)
#   rake gc:stress[core]   GC_STRESS=1 on every C-core and Key spec (about an
#                          hour: 42 of its examples took 16 minutes here)
#
# GC_STRESS_SCALE (default 0.0001) scales the loop counts of the hardening
# specs under stress (see spec/support/hardening.rb).
module MailroomGC
  SUBSETS = {
    "paths" => "spec/native/gc_paths_spec.rb",
    "core" => "spec/native/**/*_spec.rb,spec/mailroom_jwt/key_spec.rb,spec/mailroom_jwt/key/**/*_spec.rb," \
              "spec/mailroom_jwt/claims_spec.rb,spec/mailroom_jwt/compat_spec.rb,spec/mailroom_jwt_spec.rb"
  }.freeze

  module_function

  def rspec(env, pattern)
    cmd = [FileUtils::RUBY, "-w", "-S", "rspec", "--pattern", pattern, "--format", "progress"]
    puts "#{env.map { |k, v| "#{k}=#{v}" }.join(' ')} rspec --pattern #{pattern}"
    system(env, *cmd) or abort "the suite failed with #{env.keys.join(' and ')}"
  end
end

namespace :gc do
  desc "The whole suite with GC_COMPACT=1 (compaction, verified references)"
  task compact: :compile do
    MailroomGC.rspec({ "GC_COMPACT" => "1" }, "spec/**/*_spec.rb")
  end

  desc "GC_STRESS=1 on the extension's entry points (gc:stress[core]: every C-core and Key spec)"
  task :stress, [:subset] => :compile do |_t, args|
    subset = args[:subset] || "paths"
    pattern = MailroomGC::SUBSETS.fetch(subset) { abort "gc:stress subsets: #{MailroomGC::SUBSETS.keys.join(', ')}" }
    MailroomGC.rspec({ "GC_STRESS" => "1", "MAILROOM_JWT_SCALE" => ENV.fetch("GC_STRESS_SCALE", "0.0001") }, pattern)
  end
end

desc "gc:compact then gc:stress"
task gc: ["gc:compact", "gc:stress"]
