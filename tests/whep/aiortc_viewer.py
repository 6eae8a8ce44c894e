#!/usr/bin/env python3
"""A WHEP viewer that is not Deskbeam's: aiortc (a Python WebRTC stack) watches a Deskbeam link.

Given only the viewer link, it POSTs an SDP offer to <server>/whep with the link token as the
bearer, plays the H.264 it receives, prints one JSON line with the picture size and the colour at
the centre, then DELETEs its WHEP resource. Exit code 0 on success, 1 on failure.
"""
import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription


def whep_request(method, url, token, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/sdp")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def centre_rgb(frame):
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    data = bytes(plane)
    sums, n = [0, 0, 0], 0
    cx, cy = rgb.width // 2, rgb.height // 2
    for y in range(cy - 8, cy + 8):
        row = y * plane.line_size
        for x in range(cx - 8, cx + 8):
            i = row + x * 3
            for c in range(3):
                sums[c] += data[i + c]
            n += 1
    return [round(s / n) for s in sums]


async def watch(link, timeout):
    base, _, token = link.partition("#")
    server = base.rsplit("/view", 1)[0]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    frames = asyncio.Queue()

    @pc.on("track")
    def on_track(track):
        async def pump():
            while True:
                try:
                    frames.put_nowait(await track.recv())
                except Exception:
                    return
        asyncio.ensure_future(pump())

    await pc.setLocalDescription(await pc.createOffer())
    status, headers, body = await asyncio.get_running_loop().run_in_executor(
        None, whep_request, "POST", f"{server}/whep", token, pc.localDescription.sdp.encode()
    )
    if status != 201:
        return {"ok": False, "status": status, "body": body}
    location = headers.get("Location") or headers.get("location")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    result = {"ok": False, "reason": "no frame"}
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            frame = await asyncio.wait_for(frames.get(), deadline - asyncio.get_running_loop().time())
            if frame.width > 16 and frame.height > 16:
                r, g, b = centre_rgb(frame)
                result = {"ok": True, "width": frame.width, "height": frame.height, "r": r, "g": g, "b": b}
                break
    except asyncio.TimeoutError:
        pass
    if location:
        del_status, _, _ = await asyncio.get_running_loop().run_in_executor(
            None, whep_request, "DELETE", f"{server}{location}", token
        )
        result["delete_status"] = del_status
    await pc.close()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    result = asyncio.run(watch(args.url, args.timeout))
    print(json.dumps(result), flush=True)
    sys.exit(0 if result.get("ok") else 1)


if __name__ == "__main__":
    main()
