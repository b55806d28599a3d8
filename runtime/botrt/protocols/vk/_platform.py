"""What every VK event module shares: the platform's name and the chat peer offset."""

PLATFORM = "vk"
CHAT_PEER_OFFSET = 2_000_000_000
"""A `peer_id` at or above this is a group chat (`2000000000 + chat_id`)."""
