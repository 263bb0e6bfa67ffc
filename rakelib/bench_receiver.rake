# frozen_string_literal: true

namespace :bench do
  desc "Receiver token check against ruby-jwt as GitLab uses it (ratios in the same run)"
  task receiver: :compile do
    ruby "-Ilib", "bench/receiver.rb"
  end
end
