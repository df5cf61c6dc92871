"""A real MCP client for rosgate's tests: the PyPI package `mcp`, over
streamable HTTP with a bearer token. Prints one JSON document.

usage: client.py URL TOKEN list_tools
       client.py URL TOKEN call_tool NAME ARGUMENTS_JSON
       client.py URL TOKEN read_resource URI
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def texts(content):
    return "\n".join(getattr(c, "text", "") for c in content or [])


async def main():
    url, token, command = sys.argv[1], sys.argv[2], sys.argv[3]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="legacy") as client:
            if command == "list_tools":
                result = await client.list_tools()
                out = sorted(t.name for t in result.tools)
            elif command == "call_tool":
                result = await client.call_tool(sys.argv[4], json.loads(sys.argv[5]))
                out = {
                    "is_error": bool(getattr(result, "is_error", False)),
                    "text": texts(result.content),
                    "structured": getattr(result, "structured_content", None),
                }
            elif command == "read_resource":
                result = await client.read_resource(sys.argv[4])
                out = {"text": "\n".join(getattr(c, "text", "") for c in result.contents)}
            else:
                raise SystemExit(f"unknown command {command}")
    print(json.dumps(out))


asyncio.run(main())
