# frozen_string_literal: true

RSpec.describe MailroomJWT::Queue do
  it "puts its errors under MailroomJWT::Error" do
    expect(described_class::TooLarge.ancestors).to include(MailroomJWT::Error)
    expect(described_class::Unavailable.ancestors).to include(MailroomJWT::Error)
    expect(described_class::UnknownMailbox.ancestors).to include(MailroomJWT::Error)
  end

  it "maps each mailbox type to GitLab's worker and queue" do
    expect(described_class::WORKERS).to eq(
      "incoming_email" => { "class" => "EmailReceiverWorker", "queue" => "email_receiver" },
      "service_desk_email" => { "class" => "ServiceDeskEmailReceiverWorker", "queue" => "service_desk_email_receiver" }
    )
  end

  it "accepts a mailbox type as a String or a Symbol, and nothing else" do
    expect(described_class.mailbox_type!(:incoming_email)).to eq("incoming_email")
    expect { described_class.mailbox_type!("../etc") }.to raise_error(described_class::UnknownMailbox)
  end

  it "says TooLarge only over the limit" do
    expect(described_class.check_size!("x" * 10, 10)).to be_nil
    expect(described_class.check_size!("x" * 10, nil)).to be_nil
    expect { described_class.check_size!("x" * 11, 10) }.to raise_error(described_class::TooLarge, /11 bytes.*10 bytes/)
  end
end
